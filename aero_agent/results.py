"""Result models of sessions and the store: session info and status, answers, search hits, extractions, history
turns."""

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


Status = Literal["encoding", "live", "ready", "failed"]


class SessionInfo(BaseModel):
    """What a session is and how far its encoding has got."""

    id: str
    source: str
    duration_s: float
    engine: str
    model_id: str
    status: Status = "encoding"
    progress: float = Field(default=0.0, description="Fraction of the audio encoded, 0 to 1.")
    windows_done: int = 0
    windows_total: int = 0
    error: str | None = None
    interrupted: bool = Field(default=False, description="True when a stop of the process interrupted the encoding.")
    source_size: int | None = Field(default=None, description="Size in bytes of the source file, when a file.")
    source_mtime: float | None = Field(default=None, description="Modification time of the source file, when a file.")
    created: str = Field(default_factory=utc_now)
    updated: str = Field(default_factory=utc_now)
    turns: int = 0
    tags: list[str] | None = Field(default=None, description="Topic keyphrases, once the transcript is indexed.")
    gist: str | None = Field(default=None, description="The recording's most central passage, in one line.")
    speakers: int | None = Field(default=None, description=(
        "Speakers found, once diarized (0 when no speech was heard); None when speakers were not asked for."))
    language: str | None = Field(default=None, description=(
        "The spoken language: as asked (a code, or auto) until encoded, then the code detected or given."))
    language_probability: float | None = Field(default=None, description="The detector's probability of language.")
    task: Literal["transcribe", "translate"] = Field(default="transcribe", description=(
        "translate: the transcript is an English translation of the speech."))
    vocabulary: list[str] | None = Field(default=None, description=(
        "The custom vocabulary every decode of this session used (the call's terms, then the store's); None "
        "for none."))
