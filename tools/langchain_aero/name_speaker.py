"""``name_speaker``: give a diarized session's speaker a name, recognised from then on in every recording."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from aero_agent.voices.render import voice_line
from langchain_aero.base import AudioTool, SessionInput

DESCRIPTION = (
    "Name a speaker of a session opened with speakers=true (a label from list_speakers, e.g. SPEAKER_01): the "
    "transcript shows the name at once, and the voice is learned, so the same person is recognised by name in "
    "other recordings. Naming two speakers of one session alike merges them. Then pass the name as speaker to "
    "search_library, search_audio or ask_audio.")
"""What the model reads about the tool."""


class NameSpeakerInput(SessionInput):
    speaker: str = Field(description="The speaker's label in this session, e.g. SPEAKER_01.")
    name: str = Field(description="The person's name, e.g. Alice.")


class NameSpeakerTool(AudioTool):
    name: str = "name_speaker"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = NameSpeakerInput

    def _call(self, session_id: str, speaker: str, name: str) -> tuple[str, Any]:
        info = self.store.voices.name_speaker(session_id, speaker, name)
        return f"{speaker} of session {session_id} is now {info.name}. {voice_line(info)}", info.model_dump()
