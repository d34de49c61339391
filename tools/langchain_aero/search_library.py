"""``search_library``: every stored recording searched at once, by meaning and by words."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from aero_agent.render import hit_line
from aero_agent.retrieval import weak_note
from aero_agent.session import MAX_K
from aero_agent.transcript import EventKind
from langchain_aero.base import AudioTool


DESCRIPTION = (
    "Search every stored audio session at once: the passages that best match the query (ranked by meaning and "
    "by words, so your own phrasing works), each with its session_id, recording and times. Narrow it with "
    "session_ids or with topic tags (shown by list_audio_sessions); then read more with ask_audio or "
    "transcribe_audio on a hit's session_id.")
"""What the model reads about the tool."""


class SearchLibraryInput(BaseModel):
    query: str = Field(description="What to look for, in your own words.")
    k: int = Field(default=5, ge=1, le=MAX_K, description=f"How many passages to return, 1 to {MAX_K}.")
    session_ids: list[str] | None = Field(default=None, description="Only these sessions; empty: all ready ones.")
    tags: list[str] | None = Field(default=None, description="Only sessions tagged with one of these topics, or "
                                                       "with music, singing or speech (recordings where that sound fills 5 % or more).")
    speaker: str | None = Field(default=None, description=(
        "Only what this named voice (see list_voices) said, in every session it was heard in."))
    event: EventKind | None = Field(default=None, description=(
        "Only passages over a sound event of this kind, in any session, e.g. music: what is said over music."))


class SearchLibraryTool(AudioTool):
    name: str = "search_library"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = SearchLibraryInput

    def _call(self, query: str, k: int = 5, session_ids: list[str] | None = None,
              tags: list[str] | None = None, speaker: str | None = None, event: str | None = None) -> tuple[str, Any]:
        hits = self.store.search(query, k, session_ids, tags, speaker=speaker, event=event)
        if not hits:
            text = f"No passage in the library matches {query!r}. Try other words, or list_audio_sessions."
        else:
            text = (f"{len(hits)} passage{'s' if len(hits) != 1 else ''} matching {query!r}:\n"
                    + "\n".join(hit_line(h) for h in hits))
            note = weak_note(hits)
            text += f"\n({note})" if note else ""
        artifact = {"query": query, "hits": [h.model_dump() for h in hits]}
        return self._clip(text, "list cut; the artifact holds every hit"), artifact
