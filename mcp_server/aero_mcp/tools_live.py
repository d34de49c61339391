"""Tools for live audio: start a live session, append audio chunks to it as they are spoken, finish it."""

# No ``from __future__ import annotations``: the SDK reads these signatures at registration time.

import logging
from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from aero_agent.audio import TARGET_RATE
from aero_agent.transcription import TranscribeOptions
from aero_agent.live import (MAX_BASE64_CHARS, AnchorArg, ContextArg, LiveOptions, PauseArg, StepArg, WindowArg,
                             decode_base64_chunk)
from aero_agent.render import live_update_text
from aero_agent.session import AudioSession
from aero_agent.transcript import Segment
from aero_mcp.registry import ADDS_TURN, OPENS, App, SessionId, result, tool
from aero_mcp.models import SessionStatus
from aero_mcp.tools_sessions import Language, TaskArg
from aero_mcp.tools_vocabulary import VocabularyArg

log = logging.getLogger("aero_mcp")


class LiveProgress(BaseModel):
    """A live session after a chunk: what became final, the tail that may still change, and whether the
    server keeps up."""

    session_id: str
    status: Literal["live", "ready"]
    received_s: float = Field(description="Audio received so far, in seconds (the stream's current time).")
    final: list[Segment] = Field(description="Segments that became final with this call (they never change).")
    final_segments: int = Field(description="Final segments in the session so far.")
    partial_text: str = Field(description="The tail heard but not yet final; it may still change.")
    lagging: bool = Field(description="True when decoding cannot keep up and the server widened its step.")
    behind_s: float = Field(description="Audio that waited beyond one step before the last decode, seconds.")
    message: str


def _progress(session: AudioSession, final: list[Segment], message: str) -> LiveProgress:
    stats = session.live_stats
    transcript = session.transcribe()
    return LiveProgress(session_id=session.id, status="ready" if session.ready else "live",
                        received_s=session.info.duration_s, final=final, final_segments=len(transcript.segments),
                        partial_text=" ".join(s.text for s in transcript.partial),
                        lagging=bool(stats and stats.lagging), behind_s=stats.behind_s if stats else 0.0,
                        message=message)


async def _notify_transcript(ctx: Context | None, session_id: str) -> None:
    """Tell the client the session's transcript resources changed (best effort: a client that left is fine)."""
    if ctx is None:
        return
    for suffix in ("", ".srt", ".vtt", ".json"):
        try:
            await ctx.session.send_resource_updated(f"audio://sessions/{session_id}/transcript{suffix}")
        except Exception as exc:  # noqa: BLE001
            log.debug("could not send resource-updated for %s: %s", session_id, exc)
            return


@tool("Start a live audio session", OPENS)
async def start_live_session(
    app: App,
    language: Language = None,
    task: TaskArg = "transcribe",
    window_s: WindowArg = None,
    step_s: StepArg = None,
    pause_s: PauseArg = None,
    anchor_s: AnchorArg = None,
    context_s: ContextArg = None,
    vocabulary: VocabularyArg = None,
) -> Annotated[CallToolResult, SessionStatus]:
    """Start a session on audio that is still being spoken (a call, a meeting, a lecture).

    Send the audio with append_audio as it arrives (16 kHz mono), then call finish_live_session. Meanwhile
    transcribe_audio, search_audio and ask_audio work on the text that is final so far. A language or task
    the model cannot honour is refused here, before any audio is sent. window_s, step_s, pause_s,
    anchor_s and context_s tune how soon text becomes final against its accuracy; leave them empty for the defaults.
    """
    transcription = TranscribeOptions.of(language, task, vocabulary=vocabulary)
    options = LiveOptions.of(window_s=window_s, step_s=step_s, pause_s=pause_s, anchor_s=anchor_s,
                             context_s=context_s)
    store = await app.backend.store()
    session = await app.backend.run(store.open_live, options=options, transcription=transcription,
                                    what="starting a live session")
    status = SessionStatus.from_info(session.info)
    return result(status, f"Live session {session.id} started. {status.message}")


@tool("Append live audio", ADDS_TURN)
async def append_audio(
    app: App,
    session_id: SessionId,
    audio_base64: Annotated[str, Field(min_length=0, max_length=MAX_BASE64_CHARS,
                                       description="The next chunk of audio, base64-encoded (at most 60 s).")],
    format: Annotated[Literal["s16le", "wav"], Field(
        description="s16le: raw signed 16-bit little-endian 16 kHz mono samples; wav: a WAV file of 16 kHz "
                    "mono.")] = "s16le",
    ctx: Context | None = None,
) -> Annotated[CallToolResult, LiveProgress]:
    """Append the next chunk of a live session's audio, in order. Returns the segments that became final
    with it and the partial tail. A bad chunk is refused and the text so far is kept."""
    store = await app.backend.store()
    session = await app.backend.run(store.get, session_id, what="loading the session")
    samples = await app.backend.run(decode_base64_chunk, audio_base64, format, what="decoding the chunk")
    app.tenant.audio.charge(len(samples) / TARGET_RATE)  # live audio counts against the tenant's daily cap
    update = await app.backend.run(session.feed, samples, what="transcribing the chunk")
    if update.final:
        await _notify_transcript(ctx, session_id)
    progress = await app.backend.run(_progress, session, update.final, "", what="reading the session")
    text = live_update_text(update.final, progress.partial_text, progress.received_s, progress.final_segments,
                            progress.behind_s if progress.lagging else None)
    progress.message = text.splitlines()[-1]
    return result(progress, text)


@tool("Finish a live audio session", OPENS)
async def finish_live_session(app: App, session_id: SessionId,
                              ctx: Context | None = None) -> Annotated[CallToolResult, LiveProgress]:
    """End a live session: the rest of its audio is decoded and every word becomes final. The session is
    then an ordinary ready session (finishing twice is harmless)."""
    store = await app.backend.store()
    session = await app.backend.run(store.get, session_id, what="loading the session")
    before = len(session.transcribe().segments)
    transcript = await app.backend.run(session.finish, what="finishing the live session")
    await _notify_transcript(ctx, session_id)
    done = await app.backend.run(_progress, session, transcript.segments[before:],
                                 f"Finished: {session.info.duration_s:.1f} s, {len(transcript.segments)} segments. "
                                 "Use transcribe_audio, search_audio or ask_audio with this session_id.",
                                 what="reading the session")
    return result(done, done.message)
