"""Tools that open, watch, list and close audio sessions."""

# No ``from __future__ import annotations``: the SDK reads these signatures at registration time.

import logging
from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from aero_agent.transcription import TranscribeOptions
from aero_agent.paths import resolve_allowed
from aero_agent.render import status_line
from aero_agent.results import SessionInfo
from aero_mcp.registry import (DELETES, OPENS, READ_ONLY, App, AppState, NumSpeakers, SessionId, SpeakersArg, WaitS,
                          progress_sink, result, tool)
from aero_mcp.models import CloseResult, OpenAudioResult, SessionList, SessionStatus
from aero_mcp.tools_vocabulary import VocabularyArg

log = logging.getLogger("aero_mcp")

MAX_PATH_CHARS = 4096
Language = Annotated[str | None, Field(max_length=32, description=(
    "The spoken language: auto to detect it, or a code such as de, es, fr (default: English for the "
    "English-only tiny.en, detection for multilingual models)."))]
TaskArg = Annotated[Literal["transcribe", "translate"], Field(
    description="translate writes an English translation (multilingual models only).")]


def status_text(info: SessionInfo, status: SessionStatus) -> str:
    return f"Session {status_line(info)}. {status.message}"


@tool("Open an audio recording", OPENS)
async def open_audio(
    app: App,
    path: Annotated[str, Field(min_length=1, max_length=MAX_PATH_CHARS,
                               description="Path of an audio or video file inside the allowed folders; "
                                           "relative paths start at the first allowed folder.")],
    wait_s: Annotated[float | None, Field(
        ge=0,
        description="Seconds to wait for encoding to finish (capped at about 50). By default short "
                    "recordings are waited for and long ones return at once with status 'encoding'.")] = None,
    reuse: Annotated[bool, Field(description="Return the existing session when this file is already "
                                             "open (ready or encoding).")] = True,
    speakers: SpeakersArg = False,
    num_speakers: NumSpeakers = None,
    language: Language = None,
    task: TaskArg = "transcribe",
    vocabulary: VocabularyArg = None,
    ctx: Context | None = None,
) -> Annotated[CallToolResult, OpenAudioResult]:
    """Open a recording: decode it, then encode it once so that later calls are fast.

    With speakers=true the same pass finds who speaks when (segments labelled SPEAKER_00, ...; see
    list_speakers); num_speakers fixes the count when known. Returns a session_id for transcribe_audio,
    ask_audio, search_audio and extract_from_audio. Bad audio
    is refused at once with the reason. Long recordings keep encoding in the background after this call
    returns (status 'encoding'); session_status reports progress.
    """
    backend, config = app.backend, app.config
    deadline = backend.deadline(wait_s)
    store = await backend.store(deadline)
    real = await backend.run(resolve_allowed, path, app.roots, deadline=deadline, what="checking the path")
    transcription = TranscribeOptions.of(language, task, vocabulary)
    info = await backend.run(store.find, real, None, transcription, deadline=deadline,
                             what="looking for an open session") if reuse else None
    reused = info is not None
    asked = {"speakers": speakers, "num_speakers": num_speakers, "transcription": transcription}
    if info is None:
        session = await backend.run(store.open, real, wait=False, deadline=deadline, what=f"decoding {real.name}",
                                    **asked)
        info = session.info.model_copy()
        log.info("opened %s as %s (%.1f s)", real, info.id, info.duration_s)
    elif speakers or num_speakers is not None:
        session = await backend.run(store.open, real, wait=False, reuse=True, deadline=deadline,
                                    what="finding the speakers", **asked)
        info = session.info.model_copy()
    if wait_s is None:
        wait_s = config.open_wait_s if info.duration_s <= config.short_audio_s else 0.0
    if info.status == "encoding" and wait_s > 0:
        info = await backend.wait_encoded(info.id, wait_s, progress_sink(ctx), deadline, reserve_s=1.0)
    opened = OpenAudioResult(**SessionStatus.from_info(info).model_dump(), reused=reused)
    prefix = "Reused the open session. " if reused else ""
    return result(opened, prefix + status_text(info, opened))


@tool("Session status", READ_ONLY)
async def session_status(app: App, session_id: SessionId, wait_s: WaitS = None,
                         ctx: Context | None = None) -> Annotated[CallToolResult, SessionStatus]:
    """Status of a session: encoding (with progress), ready, or failed (with the reason).

    Give wait_s to wait up to that many seconds (capped at about 50) for encoding to finish; progress
    notifications are sent meanwhile when the client asked for them.
    """
    backend = app.backend
    deadline = backend.deadline(wait_s)
    store = await backend.store(deadline)
    if wait_s:
        info = await backend.wait_encoded(session_id, wait_s, progress_sink(ctx), deadline, reserve_s=1.0)
    else:
        info = await backend.run(store.status, session_id, deadline=deadline, what="reading the status")
    status = SessionStatus.from_info(info)
    return result(status, status_text(info, status))


@tool("List audio sessions", READ_ONLY)
async def list_audio_sessions(app: App) -> Annotated[CallToolResult, SessionList]:
    """All audio sessions in the store (they persist across restarts), newest first, with their status."""
    infos, listed = await session_list(app)
    lines = [status_text(i, s) for i, s in zip(infos, listed.sessions)] or [
        "No sessions yet: call open_audio with a path."]
    lines.append(listed.message)
    return result(listed, "\n".join(lines))


async def session_list(app: AppState) -> tuple[list[SessionInfo], SessionList]:
    """Every session's status, and the list as the tool and the ``audio://sessions`` resource return it."""
    store = await app.backend.store()
    infos = await app.backend.run(store.list, what="listing sessions")
    present = {i.id for i in infos}
    interrupted = [i for i in store.interrupted if i in present]
    folders = [str(r) for r in app.roots]
    message = f"Allowed folders: {', '.join(folders)}."
    if interrupted:
        message += (f" {len(interrupted)} session(s) were interrupted while encoding when the server last "
                    f"stopped ({', '.join(interrupted)}): open their files again.")
    return infos, SessionList(sessions=[SessionStatus.from_info(i) for i in infos], interrupted=interrupted,
                              allowed_folders=folders, message=message)


@tool("Close an audio session", DELETES)
async def close_audio_session(app: App, session_id: SessionId) -> Annotated[CallToolResult, CloseResult]:
    """Close a session and delete its stored data (encoding, transcript, history). The audio file is kept."""
    store = await app.backend.store()
    await app.backend.run(store.close, session_id, what="closing the session")
    closed = CloseResult(session_id=session_id, closed=True,
                         message=f"Session {session_id} is closed and its stored data deleted.")
    return result(closed, closed.message)
