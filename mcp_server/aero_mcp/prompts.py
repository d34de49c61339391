"""The server's prompts for common jobs on a recording: their texts, and the prompts that embed them."""

# No ``from __future__ import annotations``: the SDK reads these signatures at registration time.

import json
import logging
from pathlib import Path
from typing import Annotated

from mcp.server.mcpserver import Context, UserMessage
from mcp.types import EmbeddedResource, TextResourceContents
from pydantic import Field

from aero_agent import errors as E
from aero_mcp.backend import UserError
from aero_mcp.registry import app_state, prompt

log = logging.getLogger("aero_mcp")

EMBED_MAX_CHARS = 60_000
"""A ready session's transcript is embedded in the prompt when it is at most this long."""

_TOOLS = ("Use the aero-mcp tools on that session: transcribe_audio for the transcript (it cites times), "
          "search_audio to find where something is said, ask_audio for questions. Quote times as [mm:ss].")

MEETING_MINUTES = (
    "Write minutes of this recorded meeting with these sections: Attendees (as far as the recording tells), "
    "Agenda / topics with times, Decisions, Action items (owner, task, due date if said, time), Open questions. "
    "Keep each point short and grounded in what was said; write 'not stated' rather than guessing. " + _TOOLS
)

ACTION_ITEMS = (
    "List every action item in this recording as a table: owner, task, due date (or 'not stated'), and the time "
    "[mm:ss] it was said, with a short quote. Include only commitments actually made. " + _TOOLS
)


def summary(focus: str = "") -> str:
    focus = focus.strip()
    about = f" concentrating on: {focus}." if focus else "."
    return ("Summarize this recording in a few short paragraphs" + about + " Start with one sentence on what it "
            "is, then the main points in order with their times, then anything notable left open. " + _TOOLS)


def find_moments(topic: str) -> str:
    return (f"Find every moment in this recording where this comes up: {topic.strip() or '(no topic given)'}. "
            "For each, give the time range, a short quote and one line of context. Use search_audio first, then "
            "transcribe_audio with start_s/end_s around each hit to read the context. " + _TOOLS)


def subtitles(fmt: str = "srt") -> str:
    fmt = fmt.strip().lower() if fmt.strip().lower() in ("srt", "vtt") else "srt"
    return (f"Produce {fmt.upper()} subtitles for this recording: call transcribe_audio with format='{fmt}' (and "
            "start_s for the next part when the result says it was cut), then return the subtitles unchanged in "
            f"one code block. The resource audio://sessions/<session_id>/transcript.{fmt} holds the same text.")


# ----- the prompts ----------------------------------------------------------------------------------------
AudioArg = Annotated[str, Field(description="A session id (see list_audio_sessions) or the path of an audio "
                                            "file inside the allowed folders.")]


async def task_messages(ctx: Context, audio: str, task: str) -> list[UserMessage]:
    """``task`` about ``audio``: how to open it when it is a path, and its transcript when it is a ready session."""
    audio = audio.strip()
    backend = (await app_state(ctx)).backend
    try:  # a fresh server's store opens once the engine has loaded: wait for it, as a tool call does
        store = await backend.store()
    except UserError as exc:
        log.warning("prompt: the session store is not available: %s", exc)
        store = None
    info = None
    if store is not None and audio:
        try:
            info = await backend.run(store.status, audio)
        except (E.SessionNotFoundError, OSError, ValueError):
            info = None
    if info is None:
        intro = (f"Call open_audio with path={json.dumps(audio)} to open the recording (wait with "
                 "session_status if it is still encoding).")
        return [UserMessage(f"{intro}\n\n{task}")]
    intro = (f"The recording is open as audio session {info.id} ({Path(info.source).name}, "
             f"{info.duration_s:.0f} s, status {info.status}).")
    messages = [UserMessage(f"{intro}\n\n{task}")]
    if info.status != "ready":
        return messages
    try:
        session = await backend.run(store.get, info.id)
        transcript = await backend.run(session.transcribe)
    except Exception as exc:  # noqa: BLE001 - the prompt still works without the embedded transcript
        log.warning("prompt: could not embed the transcript of %s: %s", info.id, exc)
        return messages
    if len(transcript.text) <= EMBED_MAX_CHARS:
        messages.append(UserMessage(EmbeddedResource(type="resource", resource=TextResourceContents(
            uri=f"audio://sessions/{info.id}/transcript.srt", mime_type="application/x-subrip",
            text=transcript.to_srt()))))
    return messages


@prompt(title="Meeting minutes")
async def meeting_minutes(audio: AudioArg, ctx: Context) -> list[UserMessage]:
    """Write minutes of a recorded meeting: attendees, decisions, action items, open questions."""
    return await task_messages(ctx, audio, MEETING_MINUTES)


@prompt(title="Action items")
async def action_items(audio: AudioArg, ctx: Context) -> list[UserMessage]:
    """List the action items in a recording, with owner, due date and the time they were said."""
    return await task_messages(ctx, audio, ACTION_ITEMS)


@prompt(title="Summarize a recording")
async def summarize_recording(audio: AudioArg, ctx: Context, focus: Annotated[str, Field(
        description="Optional: what the summary should concentrate on.")] = "") -> list[UserMessage]:
    """Summarize a recording in a few paragraphs with timestamps."""
    return await task_messages(ctx, audio, summary(focus))


@prompt(name="find_moments", title="Find moments")
async def find_moments_prompt(audio: AudioArg, ctx: Context, topic: Annotated[str, Field(
        description="What to look for, e.g. 'pricing' or 'when the budget is mentioned'.")]) -> list[UserMessage]:
    """Find every moment where a topic comes up, with times and quotes."""
    return await task_messages(ctx, audio, find_moments(topic))


@prompt(name="subtitles", title="Subtitles")
async def subtitles_prompt(audio: AudioArg, ctx: Context, format: Annotated[str, Field(
        description="srt or vtt")] = "srt") -> list[UserMessage]:
    """Produce subtitles (SRT or WebVTT) for a recording."""
    return await task_messages(ctx, audio, subtitles(format))
