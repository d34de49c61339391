"""Typed tool results. Each tool returns one of these as structured content, plus a readable text."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from aero_agent import SearchHit, Segment, SessionInfo
from aero_agent.results import AnswerMethod, ExtractionMethod
from aero_agent.transcript import AudioEvent, SpeakerSummary


class SessionStatus(BaseModel):
    """Where a session stands: what it is, whether it is ready, and how far encoding has got."""

    session_id: str
    source: str = Field(description="The audio file the session was opened from.")
    duration_s: float = Field(description="Length of the recording in seconds.")
    engine: str
    model_id: str
    status: Literal["encoding", "live", "ready", "failed"]
    progress: float = Field(description="Fraction of the audio encoded, 0 to 1.")
    windows_done: int = 0
    windows_total: int = 0
    error: str | None = Field(default=None, description="Why the session failed, when status is failed.")
    interrupted: bool = Field(default=False, description="True when a server stop interrupted its encoding.")
    turns: int = Field(default=0, description="Questions and extractions asked so far.")
    tags: list[str] | None = Field(default=None, description="Topic tags of the recording, once indexed.")
    gist: str | None = Field(default=None, description="The recording's most central passage, once indexed.")
    speakers: int | None = Field(default=None, description="Speakers found once diarized (0: no speech); "
                                                           "None when speakers were not asked for.")
    language: str | None = Field(default=None, description="The spoken language's code: detected or given "
                                                           "(auto while a detection is still to come).")
    language_probability: float | None = Field(default=None, description="How sure the language detection was.")
    task: Literal["transcribe", "translate"] = Field(default="transcribe",
                                                     description="translate: the text is in English.")
    vocabulary: list[str] | None = Field(default=None, description="The custom vocabulary its decodes use.")
    created: str
    updated: str
    message: str = Field(description="What the status means and what to do next.")

    @classmethod
    def from_info(cls, info: SessionInfo, message: str = "") -> SessionStatus:
        return cls(session_id=info.id, source=info.source, duration_s=info.duration_s, engine=info.engine,
                   model_id=info.model_id, status=info.status, progress=round(info.progress, 4),
                   windows_done=info.windows_done, windows_total=info.windows_total, error=info.error,
                   interrupted=info.status == "failed" and info.interrupted, turns=info.turns,
                   tags=info.tags, gist=info.gist, speakers=info.speakers, language=info.language,
                   language_probability=info.language_probability, task=info.task,
                   vocabulary=info.vocabulary, created=info.created, updated=info.updated, message=message or describe_status(info))


def describe_status(info: SessionInfo) -> str:
    """One actionable sentence about a session's status."""
    if info.status == "ready":
        who = "" if info.speakers is None else (
            f" {info.speakers} speaker(s) found: list_speakers lists them, and search_audio and ask_audio take "
            "speaker.")
        return (f"Ready: {info.duration_s:.1f} s of audio encoded. Use transcribe_audio, ask_audio, search_audio "
                f"or extract_from_audio with this session_id.{who}")
    if info.status == "live":
        return (f"Live: {info.duration_s:.1f} s of audio so far. Send more with append_audio, end it with "
                "finish_live_session; transcribe_audio, search_audio and ask_audio read the final part so far.")
    if info.status == "encoding":
        done = (f"{info.progress:.0%} done ({info.windows_done}/{info.windows_total} windows)" if info.windows_total
                else "just started or waiting for an earlier recording to finish")
        return (f"Encoding in the background: {done}. transcribe_audio, search_audio and ask_audio already work on "
                "the part encoded so far; call session_status with wait_s to wait for the rest.")
    if info.interrupted:
        return ("Failed: the server stopped while this session was encoding, so it is incomplete. Call open_audio "
                "on the same file again to encode it anew, and close_audio_session to remove this one.")
    return f"Failed: {info.error}. Check the file and call open_audio again."


class OpenAudioResult(SessionStatus):
    """The session opened for a file (or an existing one for the same file, when reused)."""

    reused: bool = Field(default=False, description="True when an existing session for this file was returned.")


class TranscriptResult(BaseModel):
    """A transcript, or the part of it between two times, rendered in the requested format."""

    session_id: str
    format: Literal["text", "srt", "vtt", "json", "rttm"]
    text: str = Field(description="The transcript rendered in `format`.")
    segments: list[Segment] = Field(description="The timed segments the text was rendered from.")
    start_s: float | None = None
    end_s: float | None = None
    duration_s: float
    complete: bool = Field(description="False while the session is still encoding: only the part so far.")
    progress: float = Field(description="Fraction of the audio encoded, 0 to 1.")
    language: str = Field(default="en", description="The spoken language's code.")
    task: Literal["transcribe", "translate"] = Field(default="transcribe",
                                                     description="translate: the text is in English.")
    truncated: bool = Field(default=False, description="True when the transcript was cut at max_chars.")
    next_start_s: float | None = Field(default=None, description="Call again with this start_s for the rest.")
    message: str = ""


class SpeakersResult(BaseModel):
    """The speakers of a diarized session, most talkative first."""

    session_id: str
    diarized: bool = Field(description="False when speakers were never asked for this session.")
    speakers: list[SpeakerSummary]
    complete: bool = Field(description="False while the session is still encoding.")
    message: str = ""


class EventsResult(BaseModel):
    """Sound events of a session (music, singing, other sound), in time order."""

    session_id: str
    kind: str | None = Field(default=None, description="The kind asked for; None for every kind.")
    events: list[AudioEvent]
    complete: bool = Field(description="False while the session is still encoding or live.")
    message: str = ""


class AskResult(BaseModel):
    """An answer to a question about the recording, with the transcript evidence it rests on."""

    session_id: str
    question: str
    answer: str
    method: AnswerMethod = Field(description="engine (the audio model answered), reasoner, or transcript-evidence.")
    turn: int = Field(description="1-based number of this question in the session's conversation.")
    evidence: list[Segment] = Field(default_factory=list)
    complete: bool = Field(description="False when only the part encoded so far could be used.")
    progress: float
    note: str | None = Field(default=None, description="What limited the answer, if anything.")
    metadata: dict[str, Any] = Field(default_factory=dict)


class SearchResult(BaseModel):
    """Transcript segments ranked for a query, best first, with their times."""

    session_id: str
    query: str
    hits: list[SearchHit]
    complete: bool = Field(description="False while encoding: only the part encoded so far was searched.")
    progress: float
    message: str = ""


class LibrarySearchResult(BaseModel):
    """Passages of every stored session ranked for a query, best first, each with its session and recording."""

    query: str
    hits: list[SearchHit]
    sessions_searched: int = Field(description="Ready sessions in the library when it was searched.")
    message: str = ""


class ExtractResult(BaseModel):
    """Structured data extracted from the recording, validated against the caller's JSON Schema."""

    session_id: str
    data: dict[str, Any] | list[Any] = Field(description="The extracted data: an object or an array, as the "
                                                         "json_schema asked (a list of notes without one).")
    method: ExtractionMethod
    turn: int
    metadata: dict[str, Any] = Field(default_factory=dict)


class SessionList(BaseModel):
    """Every session in the store, newest first."""

    sessions: list[SessionStatus]
    interrupted: list[str] = Field(default_factory=list,
                                   description="Sessions whose encoding a server stop interrupted.")
    allowed_folders: list[str] = Field(description="Folders open_audio may read files from.")
    message: str = ""


class CloseResult(BaseModel):
    """The outcome of closing a session."""

    session_id: str
    closed: bool
    message: str
