"""LangChain tools over aero-agent audio sessions.

Each tool is a thin layer over :class:`aero_agent.SessionStore` and :class:`aero_agent.AudioSession`:
it validates the arguments with a pydantic schema, calls the core, and returns
``(readable text for the model, structured artifact)``. Typed aero-agent errors become
:class:`~langchain_core.tools.ToolException` with an actionable message, which the tools hand back
to the model as an error ``ToolMessage`` (``handle_tool_error=True``) instead of raising.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForToolRun
from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aero_agent.errors import AeroError, with_next_step
from aero_agent.paths import allowed_roots, resolve_allowed
from aero_agent.session import MAX_K, AudioSession, SessionInfo
from aero_agent.store import SessionStore
from aero_agent.transcript import Transcript, clock

DEFAULT_MAX_OUTPUT_CHARS = 20_000
TranscriptFormat = Literal["text", "srt", "vtt", "json"]

SESSION_ID_DESCRIPTION = ("Id of an open audio session, as returned by open_audio or list_audio_sessions "
                          "(e.g. 's3f9a1c2b7d0e').")


# ----- shared helpers ---------------------------------------------------------------------
def explain_validation_error(error: ValidationError | Exception) -> str:
    """A message a model can act on for arguments that do not fit a tool's schema."""
    if isinstance(error, ValidationError):
        parts = []
        for item in error.errors():
            where = ".".join(str(p) for p in item.get("loc", ())) or "arguments"
            parts.append(f"{where}: {item.get('msg', 'invalid value')}")
        detail = "; ".join(parts)
    else:
        detail = str(error)
    return f"Error: invalid arguments ({detail}). Fix them and call the tool again."


@contextmanager
def tool_errors(roots: list[Path] | None = None) -> Iterator[None]:
    """Turn aero-agent's typed errors into ToolException: the core's message and next step
    (:func:`aero_agent.errors.with_next_step`), after ``Error:``."""
    try:
        yield
    except ToolException:
        raise
    except AeroError as exc:
        raise ToolException(f"Error: {with_next_step(exc, roots)}") from exc


def cap_transcript(transcript: Transcript, fmt: str, max_chars: int) -> tuple[str, Transcript]:
    """``transcript`` rendered in ``fmt`` and cut at a segment boundary to fit ``max_chars``
    (:meth:`aero_agent.transcript.Transcript.head`). Returns the text and the transcript actually rendered."""
    head = transcript.head(max_chars, fmt)
    return head.text, head.shown


def describe_info(info: SessionInfo) -> str:
    """One line about a session for a model to read."""
    state = info.status
    if info.status == "encoding":
        state = f"encoding {info.progress:.0%}"
    elif info.status == "failed":
        state = f"failed ({info.error})"
    name = Path(info.source).name or info.source
    return (f"{info.id}: {name}, {info.duration_s:.1f} s, engine {info.engine} {info.model_id}, {state}, "
            f"{info.turns} turn{'s' if info.turns != 1 else ''}")


# ----- base class -------------------------------------------------------------------------
class AudioTool(BaseTool):
    """Base of the audio tools: one :class:`SessionStore`, content-and-artifact output, handled errors."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: SessionStore = Field(exclude=True, description="The session store the tool reads and writes.")
    max_output_chars: int = Field(default=DEFAULT_MAX_OUTPUT_CHARS, ge=200,
                                  description="Longest text content handed to the model; artifacts stay whole.")
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    handle_tool_error: bool | str | Callable[[ToolException], Any] | None = True
    handle_validation_error: bool | str | Callable[[Any], str] | None = explain_validation_error

    def _session(self, session_id: str) -> AudioSession:
        return self.store.get(session_id)

    def _clip(self, text: str, note: str) -> str:
        if len(text) <= self.max_output_chars:
            return text
        return text[: self.max_output_chars] + f"\n[{note}]"

    def _call(self, **kwargs: Any) -> tuple[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _run(self, *args: Any, run_manager: CallbackManagerForToolRun | None = None,
             **kwargs: Any) -> tuple[str, Any]:
        if args:  # a bare string input is the first argument
            fields = list(self.args_schema.model_fields) if isinstance(self.args_schema, type) else []
            kwargs = {**dict(zip(fields, args, strict=False)), **kwargs}
        with tool_errors(getattr(self, "allowed_dirs", None)):
            return self._call(**kwargs)

    async def _arun(self, *args: Any, run_manager: Any = None, **kwargs: Any) -> tuple[str, Any]:
        # The core is synchronous and thread-safe (one lock per session): run it off the event loop.
        return await asyncio.to_thread(self._run, *args, **kwargs)


# ----- open_audio -------------------------------------------------------------------------
class OpenAudioInput(BaseModel):
    path: str = Field(description="Path of an audio or video file (wav, flac, mp3, ogg, m4a, mp4...) inside the "
                                  "allowed folders; relative paths are taken from the first allowed folder.")
    reuse: bool = Field(default=True, description="Return the existing session when this unchanged file is already "
                                                  "open (ready or encoding); false encodes it again as a new session.")


class OpenAudioTool(AudioTool):
    name: str = "open_audio"
    description: str = (
        "Open an audio file once and get a session_id for it. The recording is decoded and encoded a single "
        "time; every other audio tool then works on the session_id without re-reading the file. Opening a file "
        "that is already open returns its session. Returns the session id, duration, engine and status.")
    args_schema: type[BaseModel] = OpenAudioInput

    allowed_dirs: list[Path] = Field(default_factory=lambda: allowed_roots(None),
                                     description="Folders files may be opened from (default: current directory).")
    engine: Any = Field(default=None, exclude=True,
                        description="Engine for new sessions; None uses the store's engine.")
    wait: bool = Field(default=True, description="Wait for encoding to finish before returning.")

    @field_validator("allowed_dirs", mode="before")
    @classmethod
    def _resolve_dirs(cls, value: Any) -> list[Path]:
        return allowed_roots(None if value is None else ([value] if isinstance(value, (str, Path)) else value))

    def _call(self, path: str, reuse: bool = True) -> tuple[str, Any]:
        real = resolve_allowed(path, self.allowed_dirs)
        found = self.store.find(real, self.engine) if reuse else None
        if found is None:
            session = self.store.open(real, engine=self.engine, wait=self.wait)
        else:
            session = self.store.get(found.id)
            if self.wait and session.info.status == "encoding":
                self.store.wait(session.id)  # opened in the background by an earlier call
        info = session.info.model_copy()
        name = Path(info.source).name or path
        opened = (f"Reused session {info.id}, already open for {name}," if found is not None
                  else f"Opened {name} as session {info.id}")
        text = (f"{opened} ({info.duration_s:.1f} s, "
                f"engine {info.engine} {info.model_id}, status {info.status}). Pass session_id=\"{info.id}\" to "
                "transcribe_audio, ask_audio, search_audio and extract_from_audio.")
        if info.status == "encoding":
            text += " Encoding continues in the background; list_audio_sessions shows its progress."
        if not session.engine.capabilities.answer and session.reasoner is None:
            text += (" This engine only transcribes: ask_audio answers with the best-matching transcript passages "
                     "and extract_from_audio is not available.")
        return text, {**info.model_dump(), "reused": found is not None}


# ----- transcribe_audio -------------------------------------------------------------------
class TranscribeAudioInput(BaseModel):
    session_id: str = Field(description=SESSION_ID_DESCRIPTION)
    start_s: float | None = Field(default=None, description="Start of the part to transcribe, in seconds from the "
                                                            "beginning; omit for the beginning.")
    end_s: float | None = Field(default=None, description="End of the part to transcribe, in seconds; omit for the "
                                                          "end of the recording.")
    format: TranscriptFormat = Field(default="text", description="'text' (plain words), 'srt' or 'vtt' (timed "
                                                                 "subtitles), or 'json' (segments with times).")


class TranscribeAudioTool(AudioTool):
    name: str = "transcribe_audio"
    description: str = (
        "Transcript of an open audio session, whole or between start_s and end_s seconds, as plain text, SRT, "
        "WebVTT or JSON with segment times. Long transcripts are cut at the end of a segment; call again with "
        "start_s set to read on.")
    args_schema: type[BaseModel] = TranscribeAudioInput

    def _call(self, session_id: str, start_s: float | None = None, end_s: float | None = None,
              format: str = "text") -> tuple[str, Any]:
        session = self._session(session_id)
        transcript = session.transcribe(start_s, end_s)
        lo = 0.0 if start_s is None else float(start_s)
        hi = transcript.duration_s if end_s is None else min(float(end_s), transcript.duration_s)
        if not transcript.segments:
            text = f"[no speech found between {lo:g} and {hi:g} s]"
        else:
            text, resume, shown = transcript.head(self.max_output_chars, format)
            if resume is not None:
                text += (f"\n[transcript cut after {resume:g} s ({len(shown.segments)} of {len(transcript.segments)} "
                         f"segments); call transcribe_audio with start_s={resume:g} for the rest]")
        if not transcript.complete:
            text += f"\n[partial: session {session_id} is still encoding ({session.info.progress:.0%} done)]"
        artifact = {"session_id": session_id, "format": format, "start_s": start_s, "end_s": end_s,
                    "text": transcript.text, **transcript.model_dump()}
        return text, artifact


# ----- ask_audio --------------------------------------------------------------------------
class AskAudioInput(BaseModel):
    session_id: str = Field(description=SESSION_ID_DESCRIPTION)
    question: str = Field(description="A question about the recording. Follow-up questions may refer to earlier "
                                      "ones: the session keeps the conversation.")


class AskAudioTool(AudioTool):
    name: str = "ask_audio"
    description: str = (
        "Ask a question about an open audio session and get an answer with the transcript passages (and times) it "
        "rests on. The session remembers earlier questions, so follow-ups work. With a transcript-only engine and "
        "no reasoner the answer is the best-matching transcript evidence.")
    args_schema: type[BaseModel] = AskAudioInput

    def _call(self, session_id: str, question: str) -> tuple[str, Any]:
        answer = self._session(session_id).ask(question)
        text = answer.text
        if answer.method != "transcript-evidence" and answer.evidence:
            text += "\n\nEvidence:\n" + "\n".join(
                f"[{clock(s.start)}-{clock(s.end)}] {s.text.strip()}" for s in answer.evidence)
        notes = [answer.metadata[key] for key in ("note", "note_partial") if answer.metadata.get(key)]
        if notes:
            text += "\n\n" + "\n".join(f"[{n}]" for n in notes)
        return self._clip(text, "answer cut; the artifact holds all of it"), answer.model_dump()


# ----- search_audio -----------------------------------------------------------------------
class SearchAudioInput(BaseModel):
    session_id: str = Field(description=SESSION_ID_DESCRIPTION)
    query: str = Field(description="Words to look for in the transcript (keyword search, best matches first).")
    k: int = Field(default=5, ge=1, le=MAX_K, description=f"How many passages to return, 1 to {MAX_K}.")


class SearchAudioTool(AudioTool):
    name: str = "search_audio"
    description: str = (
        "Find where something is said in an open audio session: the transcript passages that best match the "
        "query, with start and end times, best first. Use it to locate a topic before transcribing that range.")
    args_schema: type[BaseModel] = SearchAudioInput

    def _call(self, session_id: str, query: str, k: int = 5) -> tuple[str, Any]:
        hits = self._session(session_id).search(query, k)
        if not hits:
            text = (f"No passage matches {query!r}. Try other or fewer words, or read the transcript with "
                    "transcribe_audio.")
        else:
            lines = [f"{h.rank}. [{clock(h.start)}-{clock(h.end)}] ({h.start:.1f}-{h.end:.1f} s, score {h.score:.2f}) "
                     f"{h.text.strip()}" for h in hits]
            text = f"{len(hits)} passage{'s' if len(hits) != 1 else ''} matching {query!r}:\n" + "\n".join(lines)
        artifact = {"session_id": session_id, "query": query, "hits": [h.model_dump() for h in hits]}
        return self._clip(text, "list cut; the artifact holds every hit"), artifact


# ----- extract_from_audio -----------------------------------------------------------------
class ExtractFromAudioInput(BaseModel):
    session_id: str = Field(description=SESSION_ID_DESCRIPTION)
    instruction: str = Field(description="What to extract, e.g. 'List the action items with their owners'.")
    json_schema: dict[str, Any] | str | None = Field(
        default=None,
        description="Optional JSON Schema (an object, or its JSON text) the result must validate against; its "
                    "top-level type must be object or array. Omit for {\"items\": [strings]}.")


class ExtractFromAudioTool(AudioTool):
    name: str = "extract_from_audio"
    description: str = (
        "Extract structured data (JSON validated against an optional JSON Schema) from an open audio session, "
        "following an instruction. Needs an answer-capable engine or a reasoner model; otherwise it says so, and "
        "search_audio or transcribe_audio can be used instead.")
    args_schema: type[BaseModel] = ExtractFromAudioInput

    def _call(self, session_id: str, instruction: str,
              json_schema: dict[str, Any] | str | None = None) -> tuple[str, Any]:
        session = self._session(session_id)
        if isinstance(json_schema, str) and not json_schema.strip():
            json_schema = None
        extraction = session.extract(json_schema, instruction)
        body = json.dumps(extraction.data, indent=2, ensure_ascii=False)
        text = f"Extracted (method {extraction.method}):\n{body}"
        return self._clip(text, "JSON cut; the artifact holds all of it"), extraction.model_dump()


# ----- list_audio_sessions ----------------------------------------------------------------
class ListAudioSessionsInput(BaseModel):
    """No arguments."""


class ListAudioSessionsTool(AudioTool):
    name: str = "list_audio_sessions"
    description: str = (
        "List the open audio sessions with their ids, file names, durations, engines, status (encoding progress) "
        "and number of turns.")
    args_schema: type[BaseModel] = ListAudioSessionsInput

    def _call(self) -> tuple[str, Any]:
        infos = self.store.list()
        if not infos:
            return "No audio sessions are open. Call open_audio with a file path to open one.", []
        text = f"{len(infos)} open session{'s' if len(infos) != 1 else ''}, newest first:\n" + "\n".join(
            f"- {describe_info(i)}" for i in infos)
        return self._clip(text, "list cut; the artifact holds every session"), [i.model_dump() for i in infos]


# ----- close_audio_session ----------------------------------------------------------------
class CloseAudioSessionInput(BaseModel):
    session_id: str = Field(description=SESSION_ID_DESCRIPTION)


class CloseAudioSessionTool(AudioTool):
    name: str = "close_audio_session"
    description: str = (
        "Close an audio session when it is no longer needed: frees its memory and deletes its stored data. The "
        "session_id stops working.")
    args_schema: type[BaseModel] = CloseAudioSessionInput

    def _call(self, session_id: str) -> tuple[str, Any]:
        self.store.close(session_id)
        return f"Closed session {session_id}; its data is deleted.", {"session_id": session_id, "closed": True}


TOOL_CLASSES: tuple[type[AudioTool], ...] = (
    OpenAudioTool, TranscribeAudioTool, AskAudioTool, SearchAudioTool, ExtractFromAudioTool,
    ListAudioSessionsTool, CloseAudioSessionTool,
)

__all__ = [
    "AudioTool", "OpenAudioTool", "TranscribeAudioTool", "AskAudioTool", "SearchAudioTool", "ExtractFromAudioTool",
    "ListAudioSessionsTool", "CloseAudioSessionTool", "TOOL_CLASSES", "OpenAudioInput", "TranscribeAudioInput",
    "AskAudioInput", "SearchAudioInput", "ExtractFromAudioInput", "ListAudioSessionsInput", "CloseAudioSessionInput",
    "explain_validation_error", "tool_errors", "cap_transcript", "clock", "describe_info",
]
