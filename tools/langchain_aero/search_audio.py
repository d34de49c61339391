"""``search_audio``: where something is said, as ranked transcript passages with their times."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from aero_agent.render import hit_line
from aero_agent.session import MAX_K
from langchain_aero.utils import AudioTool, SessionInput


DESCRIPTION = (
    "Find where something is said in an open audio session: the transcript passages that best match the "
    "query, with start and end times, best first. Use it to locate a topic before transcribing that range.")
"""What the model reads about the tool."""


class SearchAudioInput(SessionInput):
    query: str = Field(description="Words to look for in the transcript (keyword search, best matches first).")
    k: int = Field(default=5, ge=1, le=MAX_K, description=f"How many passages to return, 1 to {MAX_K}.")


class SearchAudioTool(AudioTool):
    name: str = "search_audio"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = SearchAudioInput

    def _call(self, session_id: str, query: str, k: int = 5) -> tuple[str, Any]:
        hits = self._session(session_id).search(query, k)
        if not hits:
            text = (f"No passage matches {query!r}. Try other or fewer words, or read the transcript with "
                    "transcribe_audio.")
        else:
            text = (f"{len(hits)} passage{'s' if len(hits) != 1 else ''} matching {query!r}:\n"
                    + "\n".join(hit_line(h) for h in hits))
        artifact = {"session_id": session_id, "query": query, "hits": [h.model_dump() for h in hits]}
        return self._clip(text, "list cut; the artifact holds every hit"), artifact
