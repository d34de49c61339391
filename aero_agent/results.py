"""Result models returned by a session: answers, search hits, extractions, history turns."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, Field

from aero_agent.transcript import Segment


def utc_now() -> str:
    """ISO 8601 time in UTC, the timestamp format used everywhere in the store."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Turn(BaseModel):
    """One entry of a session's conversation history."""

    role: Literal["user", "assistant", "tool"]
    content: str
    time: str = Field(default_factory=utc_now)
    kind: str = Field(default="ask", description="Which operation made the turn: ask, extract, describe...")


class SearchHit(BaseModel):
    """A transcript passage (one segment or adjacent ones) ranked for a query."""

    start: float
    end: float
    text: str
    score: float
    rank: int
    speaker: str | None = Field(default=None, description="Speaker of the passage, when diarized.")
    session_id: str | None = Field(default=None, description="The session the passage is in (library search).")
    source: str | None = Field(default=None, description="The recording the passage is in (library search).")
    label: Literal["strong", "weak"] = Field(
        default="strong", description="strong: the passage matches the query; weak: the best there is, but a "
                                      "poor match (judge it before relying on it).")


AnswerMethod = Literal["engine", "reasoner", "transcript-evidence"]
"""How an answer was produced: the audio model (engine), a chat model over the transcript (reasoner), or
the best-matching transcript passages (transcript-evidence, when neither can reason)."""

ExtractionMethod = Literal["engine", "reasoner"]


class Answer(BaseModel):
    """An answer to a question about the audio, with the evidence it rests on."""

    text: str
    evidence: list[Segment] = Field(default_factory=list)
    turn: int = Field(description="1-based number of this question in the session.")
    method: AnswerMethod = Field(description="How the answer was produced: engine, reasoner or transcript-evidence.")
    complete: bool = Field(default=True, description="False when only the part encoded so far could be used.")
    notes: list[str] = Field(default_factory=list, description="What limited the answer, if anything.")
    metadata: dict[str, Any] = Field(default_factory=dict)


class Extraction(BaseModel):
    """Structured data extracted from the audio, validated against the caller's schema."""

    data: Any
    method: ExtractionMethod
    turn: int
    metadata: dict[str, Any] = Field(default_factory=dict)
