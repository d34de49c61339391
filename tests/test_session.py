"""AudioSession: transcript views, evidence answers, search, extraction with and without a reasoner."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel

from aero_agent import AudioSession
from aero_agent.data import example_path
from aero_agent.errors import CapabilityError, ExtractionError, InvalidArgumentError


@pytest.fixture(scope="module")
def sonnet(engine) -> AudioSession:
    return AudioSession.open(example_path("sonnet"), engine=engine)


def test_transcript_views(sonnet: AudioSession) -> None:
    transcript = sonnet.transcribe()
    assert transcript.complete and transcript.duration_s == pytest.approx(53.27, abs=0.01)
    assert "fairest creatures" in transcript.text.lower()
    srt = transcript.to_srt().splitlines()
    assert srt[0] == "1" and " --> " in srt[1] and srt[1].startswith("00:00:0")
    assert transcript.to_vtt().startswith("WEBVTT\n\n00:00:")
    part = sonnet.transcribe(30, 40)
    assert part.segments and all(s.end > 30 and s.start < 40 for s in part.segments)
    assert len(part.segments) < len(transcript.segments)
    with pytest.raises(InvalidArgumentError, match="outside the audio"):
        sonnet.transcribe(60, 70)
    with pytest.raises(InvalidArgumentError):
        sonnet.transcribe(20, 10)


def test_search_ranks_matching_segments(sonnet: AudioSession) -> None:
    hits = sonnet.search("beauty's rose", k=3)
    assert hits and hits[0].rank == 1 and "rose" in hits[0].text.lower()
    assert hits[0].start < 10  # the first line of the sonnet
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    glutton = sonnet.search("glutton eat the world", k=1)[0]
    assert glutton.start > 40
    nothing = sonnet.search("xylophone quantum", k=5)  # always answers, but says the match is weak
    assert nothing and all(h.label == "weak" for h in nothing) and hits[0].label == "strong"
    for bad in (0, 101, "3", True):
        with pytest.raises(InvalidArgumentError):
            sonnet.search("rose", k=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        sonnet.search("   ")


def test_ask_without_reasoner_gives_evidence_and_says_so(engine) -> None:
    session = AudioSession.open(example_path("jfk"), engine=engine)
    first = session.ask("What should you ask about your country?")
    assert first.turn == 1 and first.method == "transcript-evidence"
    assert first.metadata["engine_can_answer"] is False and "cannot reason" in first.metadata["note"]
    assert first.evidence and "country" in first.text
    second = session.ask("And what about fellow Americans?")
    assert second.turn == 2 and "Americans" in second.text
    assert [t.role for t in session.history] == ["user", "assistant", "user", "assistant"]
    assert session.history[2].content == "And what about fellow Americans?"
    with pytest.raises(CapabilityError, match="reasoner"):
        session.extract(None, "List the action items.")
    with pytest.raises(InvalidArgumentError):
        session.ask("")


class ToolCallingReasoner(BaseChatModel):
    """A chat model that calls the one tool it is bound to with fixed arguments, so LangChain's own
    ``with_structured_output`` machinery (bind_tools + tool-call parsing) runs for real."""

    arguments: dict[str, Any]
    tool_name: str = ""
    seen: list[Any] = []

    @property
    def _llm_type(self) -> str:
        return "tool-calling-test-model"

    def bind_tools(self, tools: Any, **kwargs: Any) -> "ToolCallingReasoner":
        return self.model_copy(update={"tool_name": convert_to_openai_tool(tools[0])["function"]["name"]})

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        self.seen.append(messages)
        call = {"name": self.tool_name, "args": self.arguments, "id": "call-1"}
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="", tool_calls=[call]))])


class Actions(BaseModel):
    owner: str
    items: list[str]


def test_reasoner_answers_and_extracts_over_the_transcript(engine) -> None:
    chat = GenericFakeChatModel(messages=iter([AIMessage(content="He asks what you can do for your country.")]))
    session = AudioSession.open(example_path("jfk"), engine=engine, reasoner=chat)
    answer = session.ask("What does he ask?")
    assert answer.method == "reasoner" and answer.text.startswith("He asks")
    assert answer.evidence and "country" in answer.evidence[0].text

    session.reasoner = ToolCallingReasoner(arguments={"owner": "Americans", "items": ["ask what you can do"]})
    extraction = session.extract(Actions, "List the action items and their owner.")
    assert extraction.data == {"owner": "Americans", "items": ["ask what you can do"]} and extraction.turn == 2
    prompt = session.reasoner.seen[-1]
    assert "country" in prompt[0].content and "What does he ask?" in prompt[1].content  # transcript + history

    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}  # no title
    session.reasoner = ToolCallingReasoner(arguments={"n": 2})
    assert session.extract(schema, "How many sentences?").data == {"n": 2}
    session.reasoner = ToolCallingReasoner(arguments={"n": "two"})
    with pytest.raises(ExtractionError, match="n"):
        session.extract(schema, "How many sentences?")
    with pytest.raises(InvalidArgumentError, match="invalid JSON schema"):
        session.extract({"type": "object", "properties": {"n": {"type": "no-such-type"}}}, "x")
    assert [t.kind for t in session.history if t.role == "user"] == ["ask", "extract", "extract"]
