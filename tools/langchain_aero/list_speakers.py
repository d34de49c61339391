"""``list_speakers``: who speaks in a diarized session, for how long, and when."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from aero_agent.render import speakers_text
from langchain_aero.base import AudioTool, SessionInput


DESCRIPTION = (
    "List the speakers of an audio session opened with speakers=true: each speaker's id (SPEAKER_00, ...), "
    "talk time, share of the talk, and first and last time, most talkative first. Pass an id as speaker to "
    "search_audio or ask_audio to hear only that person.")
"""What the model reads about the tool."""


class ListSpeakersInput(SessionInput):
    pass


class ListSpeakersTool(AudioTool):
    name: str = "list_speakers"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = ListSpeakersInput

    def _call(self, session_id: str) -> tuple[str, Any]:
        transcript = self._session(session_id).transcribe()
        summary = transcript.speakers()
        artifact = {"session_id": session_id, "diarized": transcript.diarized, "complete": transcript.complete,
                    "speakers": [s.model_dump() for s in summary]}
        return speakers_text(summary, transcript.diarized), artifact
