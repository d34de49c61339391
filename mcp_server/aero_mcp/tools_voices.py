"""Tools over the voice library: name a speaker, enroll a voice from samples, list voices, forget one."""

# No ``from __future__ import annotations``: the SDK reads these signatures at registration time.

from typing import Annotated

from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from aero_agent.paths import resolve_allowed
from aero_agent.voices import VoiceInfo
from aero_agent.voices.render import voice_line, voices_text
from aero_mcp.registry import DELETES, OPENS, READ_ONLY, App, SessionId, result, tool

VoiceName = Annotated[str, Field(min_length=1, max_length=80, description="The person's name, e.g. Alice.")]


class VoiceResult(BaseModel):
    """A voice after a change (no embeddings: they never leave the store)."""

    voice: VoiceInfo
    message: str


class VoicesResult(BaseModel):
    """Every named voice of the store."""

    voices: list[VoiceInfo]


class ForgetResult(BaseModel):
    """The outcome of forgetting a voice."""

    name: str
    forgotten: bool
    message: str


@tool("Name a speaker", OPENS)
async def name_speaker(
    app: App,
    session_id: SessionId,
    speaker: Annotated[str, Field(min_length=1, max_length=64, description=(
        "The speaker's label in this session, e.g. SPEAKER_01 (see list_speakers)."))],
    name: VoiceName,
) -> Annotated[CallToolResult, VoiceResult]:
    """Name a speaker of a session opened with speakers=true: the transcript shows the name at once, and the
    voice is learned, so the same person is recognised by name in other recordings. Naming two speakers of one
    session alike merges them. Pass the name as speaker to search_library to hear that person everywhere."""
    store = await app.backend.store()
    info = await app.backend.run(store.voices.name_speaker, session_id, speaker, name, what="naming the speaker")
    message = f"{speaker} of session {session_id} is now {info.name}. {voice_line(info)}"
    return result(VoiceResult(voice=info, message=message), message)


@tool("Enroll a voice", OPENS)
async def enroll_voice(
    app: App,
    name: VoiceName,
    paths: Annotated[list[str], Field(min_length=1, max_length=20, description=(
        "Sample files of this voice alone (5 s to a few minutes each), inside the allowed folders."))],
    merge: Annotated[bool, Field(description="Add to the existing voice when the name is taken.")] = False,
) -> Annotated[CallToolResult, VoiceResult]:
    """Learn a person's voice from recordings of that voice alone, so it is recognised by name in every session
    opened with speakers=true. A name already taken is refused unless merge=true."""
    store = await app.backend.store()
    files = [await app.backend.run(resolve_allowed, p, app.roots, what="checking the path") for p in paths]
    info = await app.backend.run(store.voices.enroll, name, files, merge, what="enrolling the voice")
    message = f"Enrolled {info.name}. {voice_line(info)}"
    return result(VoiceResult(voice=info, message=message), message)


@tool("List named voices", READ_ONLY)
async def list_voices(app: App) -> Annotated[CallToolResult, VoicesResult]:
    """The named voices (people) the store recognises: each name, the sessions it was heard in, its talk time
    and when last heard."""
    store = await app.backend.store()
    found = await app.backend.run(store.voices.list, what="listing voices")
    return result(VoicesResult(voices=found), voices_text(found))


@tool("Forget a voice", DELETES)
async def forget_voice(app: App, name: VoiceName) -> Annotated[CallToolResult, ForgetResult]:
    """Forget a named voice for good: its voice data is deleted and every speaker labelled with it becomes an
    anonymous SPEAKER_xx again. Cannot be undone; refused while a session using it is still encoding."""
    store = await app.backend.store()
    await app.backend.run(store.voices.forget, name, what="forgetting the voice")
    message = f"Forgot {name}: its voice data and every label pointing to it are gone."
    return result(ForgetResult(name=name, forgotten=True, message=message), message)
