"""``list_events``: music, singing and other sound heard in a session, with times."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from aero_agent.render import events_text
from aero_agent.transcript import EventKind
from langchain_aero.base import AudioTool, SessionInput

DESCRIPTION = (
    "List the sound events of an audio session: music, singing and other sound (not speech), each with start and "
    "end time and the detector's confidence; music under speech is listed too. Filter by kind and time range, "
    "e.g. kind='music' to find where an intro ends or a song plays.")
"""What the model reads about the tool."""


class ListEventsInput(SessionInput):
    kind: EventKind | None = Field(
        default=None, description="Only events of this kind: music, singing or sound (other non-speech sound).")
    start_s: float | None = Field(default=None, ge=0, description="Only events ending after this time (s).")
    end_s: float | None = Field(default=None, ge=0, description="Only events starting before this time (s).")


class ListEventsTool(AudioTool):
    name: str = "list_events"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = ListEventsInput

    def _call(self, session_id: str, kind: str | None = None, start_s: float | None = None,
              end_s: float | None = None) -> tuple[str, Any]:
        events = self._session(session_id).events(kind, start_s, end_s)
        artifact = {"session_id": session_id, "kind": kind, "events": [e.model_dump() for e in events]}
        return self._clip(events_text(events, kind), "list cut; the artifact holds every event"), artifact
