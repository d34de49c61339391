"""What the audio tools share: the base class, argument and error handling, next-step hints, artifacts.

Each tool is a thin layer over :class:`aero_agent.SessionStore` and :class:`aero_agent.AudioSession`: it
validates the arguments with a pydantic schema, calls the core, and returns ``(readable text for the model,
structured artifact)``. Typed aero-agent errors become :class:`~langchain_core.tools.ToolException` with an
actionable message, which the tools hand back to the model as an error ``ToolMessage``
(``handle_tool_error=True``) instead of raising.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Literal

from langchain_core.callbacks import CallbackManagerForToolRun
from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aero_agent import errors as E
from aero_agent.render import Hint, input_hints, status_line, with_next_step
from aero_agent.results import SessionInfo
from aero_agent.session import AudioSession
from aero_agent.speakers.base import MAX_SPEAKERS
from aero_agent.store import SessionStore
from aero_agent.transcript import Transcript

DEFAULT_MAX_OUTPUT_CHARS = 20_000
TranscriptFormat = Literal["text", "srt", "vtt", "json", "rttm"]

SESSION_ID_DESCRIPTION = ("Id of an open audio session, as returned by open_audio or list_audio_sessions "
                          "(e.g. 's3f9a1c2b7d0e').")


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


def hints(roots: Sequence[Path] | None = None) -> dict[type, Hint]:
    """What to do about each kind of error, with these tools: the core's input hints, then the tools that help."""
    table = input_hints(roots or ())
    table[E.PathNotAllowedError] += " Folders are allowed with AudioToolkit(allowed_dirs=[...])."
    table[E.SessionNotFoundError] = ("Call list_audio_sessions to see the open sessions, or open_audio to open "
                                     "the file again.")
    table[E.SourceChangedError] = "Call open_audio on the file again with speakers=true, as a new session."
    return table


@contextmanager
def tool_errors(roots: list[Path] | None = None) -> Iterator[None]:
    """Turn aero-agent's typed errors into ToolException: the core's message and the next step (:func:`hints`),
    after ``Error:``."""
    try:
        yield
    except ToolException:
        raise
    except E.AeroError as exc:
        raise ToolException(f"Error: {with_next_step(exc, hints(roots))}") from exc


def cap_transcript(transcript: Transcript, fmt: str, max_chars: int) -> tuple[str, Transcript]:
    """``transcript`` rendered in ``fmt`` and cut at a segment boundary to fit ``max_chars``
    (:meth:`aero_agent.transcript.Transcript.head`). Returns the text and the transcript actually rendered."""
    head = transcript.head(max_chars, fmt)
    return head.text, head.shown


def describe_info(info: SessionInfo) -> str:
    """One line about a session for a model to read (:func:`aero_agent.render.status_line`)."""
    return status_line(info)


def session_artifact(info: SessionInfo, **extra: Any) -> dict[str, Any]:
    """A session's status as an artifact: ``session_id`` as every tool's argument calls it (and ``id``, its
    earlier name)."""
    return {"session_id": info.id, **info.model_dump(), **extra}


class AudioTool(BaseTool):
    """Base of the audio tools: one :class:`SessionStore`, content-and-artifact output, handled errors.

    A subclass sets ``name``, ``description`` and ``args_schema`` and implements ``_call`` with the schema's
    fields as keyword arguments; ``toolkit_fields`` names the :class:`~langchain_aero.AudioToolkit` settings
    it takes besides the store.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)
    toolkit_fields: ClassVar[tuple[str, ...]] = ()

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


class SessionInput(BaseModel):
    # no docstring: pydantic would show it as the schema's description of every tool built on this
    session_id: str = Field(description=SESSION_ID_DESCRIPTION)


SPEAKERS_DESCRIPTION = ("Find who speaks when: every segment gets a speaker label (SPEAKER_00, ...), split where "
                        "the speaker changes.")
NUM_SPEAKERS_DESCRIPTION = "The number of speakers, when known (implies speakers); omit to find it automatically."


def speakers_field() -> Any:
    """The ``speakers`` argument of open_audio and transcribe_audio."""
    return Field(default=False, description=SPEAKERS_DESCRIPTION)


def num_speakers_field() -> Any:
    """The ``num_speakers`` argument of open_audio and transcribe_audio."""
    return Field(default=None, ge=1, le=MAX_SPEAKERS, description=NUM_SPEAKERS_DESCRIPTION)
