"""``search_audio``: where something is said, as ranked transcript passages with their times."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from aero_agent.render import hit_line
from aero_agent.retrieval import weak_note
from aero_agent.session import MAX_K
from aero_agent.transcript import EventKind
from langchain_aero.base import AudioTool, SessionInput


DESCRIPTION = (
    "Find where something is said in an open audio session: the transcript passages that best match the "
    "query, with start and end times, best first. Use it to locate a topic before transcribing that range.")
"""What the model reads about the tool."""


class SearchAudioInput(SessionInput):
    query: str = Field(description="What to look for in the transcript, in words or by meaning (hybrid search: keywords fused with meaning, best matches first).")
    k: int = Field(default=5, ge=1, le=MAX_K, description=f"How many passages to return, 1 to {MAX_K}.")
    speaker: str | None = Field(default=None, description="Only passages of this speaker (SPEAKER_00...), for a "
                                                          "diarized session.")
    start_s: float | None = Field(default=None, ge=0, description="Only passages ending after this time (s).")
    end_s: float | None = Field(default=None, ge=0, description="Only passages starting before this time (s).")
    event: EventKind | None = Field(default=None, description=(
        "Only passages over a sound event of this kind (see list_events), e.g. music: what is said over music."))


class SearchAudioTool(AudioTool):
    name: str = "search_audio"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = SearchAudioInput

    def _call(self, session_id: str, query: str, k: int = 5, speaker: str | None = None,
              start_s: float | None = None, end_s: float | None = None, event: str | None = None) -> tuple[str, Any]:
        hits = self._session(session_id).search(query, k, speaker=speaker, start_s=start_s, end_s=end_s,
                                                event=event)
        if not hits:
            text = (f"No passage matches {query!r}. Try other or fewer words, or read the transcript with "
                    "transcribe_audio.")
        else:
            text = (f"{len(hits)} passage{'s' if len(hits) != 1 else ''} matching {query!r}:\n"
                    + "\n".join(hit_line(h) for h in hits))
            note = weak_note(hits)
            text += f"\n({note})" if note else ""
        artifact = {"session_id": session_id, "query": query, "hits": [h.model_dump() for h in hits]}
        return self._clip(text, "list cut; the artifact holds every hit"), artifact
