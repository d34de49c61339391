"""Tools that open, watch, list and close audio sessions."""

# No ``from __future__ import annotations``: the SDK reads these signatures at registration time.

import logging
from pathlib import Path
from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from aero_agent import errors as E
from aero_agent.transcription import MAX_BEAM, TranscribeOptions
from aero_agent.paths import resolve_allowed
from aero_agent.render import status_line
from aero_agent.results import SessionInfo
from aero_mcp.registry import (DELETES, OPENS, READ_ONLY, App, AppState, NumSpeakers, SessionId, SpeakersArg,
                               WaitS, progress_sink, result, tool)
from aero_mcp.models import CloseResult, OpenAudioResult, SessionList, SessionStatus
from aero_mcp.quotas import charge_or_close
from aero_mcp.uploads import MAX_CHUNK_CHARS, decode_base64
from aero_mcp.uploads import save as save_upload
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
    path: Annotated[str | None, Field(min_length=1, max_length=MAX_PATH_CHARS,
                                      description="Path of an audio or video file inside the allowed folders; "
                                                  "relative paths start at the first allowed folder. Leave "
                                                  "empty when sending the audio in audio_base64.")] = None,
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
    beam_size: Annotated[int | None, Field(ge=1, le=MAX_BEAM, description=(
        "Hypotheses kept while decoding: 1 greedy, 5 as faster-whisper. Empty: the engine's measured choice "
        "(beam search where it pays)."))] = None,
    vocabulary: VocabularyArg = None,
    audio_base64: Annotated[str | None, Field(min_length=1, max_length=MAX_CHUNK_CHARS, description=(
        "The recording itself, base64-encoded (any format a file may have; at most 3 MB: send longer "
        "recordings with start_upload / append_upload / finish_upload). Instead of path."))] = None,
    filename: Annotated[str | None, Field(max_length=255, description=(
        "With audio_base64: the recording's file name (its extension tells the format)."))] = None,
    ctx: Context | None = None,
) -> Annotated[CallToolResult, OpenAudioResult]:
    """Open a recording: decode it, then encode it once so that later calls are fast.

    Give a path inside the allowed folders, or send the recording in audio_base64 (a client on another
    machine). With speakers=true the same pass finds who speaks when (segments labelled SPEAKER_00, ...; see
    list_speakers); num_speakers fixes the count when known. Returns a session_id for transcribe_audio,
    ask_audio, search_audio and extract_from_audio. Bad audio
    is refused at once with the reason. Long recordings keep encoding in the background after this call
    returns (status 'encoding'); session_status reports progress.
    """
    if (path is None) == (audio_base64 is None):
        raise E.InvalidArgumentError("give either path or audio_base64 (not both)")
    deadline = app.backend.deadline(wait_s)
    if audio_base64 is not None:
        data = decode_base64(audio_base64)
        real = await app.backend.run(save_upload, app.tenant.uploads.folder, data, filename, app.config.max_bytes,
                                     app.config.max_store_bytes, deadline=deadline, what="saving the audio")
    else:
        real = await app.backend.run(resolve_allowed, path, app.roots, deadline=deadline, what="checking the path")
    return await open_source(app, real, wait_s, reuse, speakers, num_speakers, language, task, ctx, beam_size, vocabulary)


async def open_source(app: AppState, real: Path, wait_s: float | None, reuse: bool, speakers: bool,
                      num_speakers: int | None, language: str | None, task: str,
                      ctx: Context | None, beam_size: int | None = None,
                      vocabulary: list[str] | None = None) -> CallToolResult:
    """Open ``real`` (a checked path, or audio a client sent) as a session, within the tenant's daily quota."""
    backend, config = app.backend, app.config
    deadline = backend.deadline(wait_s)
    store = await backend.store(deadline)
    transcription = TranscribeOptions.of(language, task, beam_size, vocabulary)
    opened_session, reused = await backend.run(
        store.open_audio, real, wait=False, reuse=reuse, deadline=deadline, what=f"opening {real.name}",
        speakers=speakers, num_speakers=num_speakers, transcription=transcription,
        check_new=app.tenant.audio.check)  # a new session is refused before any work when over the day's quota
    info = opened_session.info.model_copy()
    if not reused:
        await charge_or_close(app.tenant.audio, backend, store, info)
        log.info("opened %s as %s (%.1f s)", real, info.id, info.duration_s)
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
    """Close a session and delete its stored data (encoding, transcript, history). The audio file is kept
    (audio a client sent is deleted with the last session opened from it)."""
    store = await app.backend.store()
    await app.backend.run(app.tenant.uploads.close_with, store, session_id, what="closing the session")
    closed = CloseResult(session_id=session_id, closed=True,
                         message=f"Session {session_id} is closed and its stored data deleted.")
    return result(closed, closed.message)
