"""Tools over the whole library: every stored session searched at once."""

# No ``from __future__ import annotations``: the SDK reads these signatures at registration time.

from typing import Annotated

from mcp.types import CallToolResult
from pydantic import Field

from aero_agent.render import hit_line
from aero_agent.retrieval import weak_note
from aero_agent.transcript import EventKind
from aero_mcp.registry import READ_ONLY, App, result, text_arg, tool
from aero_mcp.models import LibrarySearchResult
from aero_mcp.tools_transcripts import MAX_HITS


@tool("Search the audio library", READ_ONLY)
async def search_library(
    app: App,
    query: text_arg("What to look for, in your own words: passages are ranked by meaning and by words."),
    k: Annotated[int, Field(ge=1, le=MAX_HITS, description="How many passages to return.")] = 5,
    session_ids: Annotated[list[str] | None, Field(
        description="Only these sessions (ids from list_audio_sessions). Empty: every ready session.")] = None,
    tags: Annotated[list[str] | None, Field(
        description="Only sessions tagged with one of these topics (see list_audio_sessions), or with music, "
                    "singing or speech: recordings where that sound fills 5 % or more.")] = None,
    speaker: Annotated[str | None, Field(max_length=80, description=(
        "Only what this named voice (see list_voices) said, in every session it was heard in."))] = None,
    event: Annotated[EventKind | None, Field(description=(
        "Only passages over a sound event of this kind, in any session, e.g. music: what is said over "
        "music."))] = None,
) -> Annotated[CallToolResult, LibrarySearchResult]:
    """Search every stored recording at once: the passages that best match the query, with their session,
    recording and times. Use ask_audio or transcribe_audio on a hit's session_id to read more."""
    store = await app.backend.store()
    ready = [i for i in await app.backend.run(store.list, what="listing sessions") if i.status == "ready"]
    hits = await app.backend.run(store.search, query, k, session_ids, tags, speaker, event,
                                 what="searching the library")
    message = weak_note(hits) or ("" if hits else "The library holds no passage to search (no ready session).")
    found = LibrarySearchResult(query=query, hits=hits, sessions_searched=len(ready), message=message)
    lines = [hit_line(h) for h in hits] + ([f"({message})"] if message else [])
    return result(found, f"Searched {len(ready)} session(s):\n" + "\n".join(lines))
