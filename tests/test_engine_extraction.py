"""Extraction with an answer-capable engine: invalid output is retried once with the error, then refused.

The engine is a scripted stand-in for Aero (an answer-capable engine is the part under test's input, and real
Aero weights are not on this machine): it replies with fixed texts in order and records the prompts it got.
"""

from __future__ import annotations

from typing import Sequence

import pytest
from pydantic import BaseModel

from aero_agent import AudioSession
from aero_agent.audio import AudioClip
from aero_agent.data import example_path
from aero_agent.engines.base import EncodedAudio, EngineCapabilities, EngineReply, ProgressFn
from aero_agent.errors import ExtractionError
from aero_agent.results import Turn


class ScriptedAnswerEngine:
    """Answers with ``replies`` in order; no model behind it."""

    name = "scripted"
    model_id = "scripted-1"
    capabilities = EngineCapabilities(transcribe=False, answer=True)

    def __init__(self, replies: Sequence[str]) -> None:
        self.replies = list(replies)
        self.prompts: list[str] = []

    def encode(self, clip: AudioClip, progress: ProgressFn | None = None) -> EncodedAudio:
        return EncodedAudio(engine=self.name, model_id=self.model_id, duration_s=clip.duration_s)

    def transcribe(self, encoded: EncodedAudio):
        raise AssertionError("not used")

    def answer(self, encoded: EncodedAudio, prompt: str, history: Sequence[Turn]) -> EngineReply:
        self.prompts.append(prompt)
        return EngineReply(text=self.replies.pop(0))


class Owner(BaseModel):
    owner: str
    items: list[str]


def _session(replies: Sequence[str]) -> tuple[AudioSession, ScriptedAnswerEngine]:
    engine = ScriptedAnswerEngine(replies)
    return AudioSession.open(example_path("ami-short"), engine=engine), engine


def test_valid_first_reply_takes_one_attempt() -> None:
    """Catches a retry that always runs (or a wrong attempt count)."""
    session, engine = _session(['{"owner": "Abbie", "items": ["call"]}'])
    extraction = session.extract(Owner, "Who owns what?")
    assert extraction.data == {"owner": "Abbie", "items": ["call"]} and extraction.method == "engine"
    assert extraction.metadata["attempts"] == 1 and len(engine.prompts) == 1
    assert '"owner"' in engine.prompts[0]  # the schema is in the prompt


def test_invalid_then_valid_reply_is_retried_with_the_error() -> None:
    """Catches removing the retry: the first reply is not JSON for the schema, the second is."""
    session, engine = _session(['{"owner": 3}', '{"owner": "Abbie", "items": []}'])
    extraction = session.extract(Owner, "Who owns what?")
    assert extraction.data == {"owner": "Abbie", "items": []}
    assert extraction.metadata["attempts"] == 2 and len(engine.prompts) == 2
    assert "previous reply was invalid" in engine.prompts[1] and '{"owner": 3}' in engine.prompts[1]
    assert [t.kind for t in session.history] == ["extract", "extract"]  # one turn, not two


def test_invalid_twice_raises_extraction_error_and_records_no_turn() -> None:
    """Catches a third attempt, a silently accepted invalid reply, or a turn recorded for a failed extraction."""
    session, engine = _session(["not json at all", '{"owner": "Abbie"}'])
    with pytest.raises(ExtractionError, match="invalid structured output twice"):
        session.extract(Owner, "Who owns what?")
    assert len(engine.prompts) == 2 and engine.replies == [] and session.history == []
