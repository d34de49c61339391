"""``close_audio_session``: forget a session and delete its stored data."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from langchain_aero.base import AudioTool, SessionInput


DESCRIPTION = (
    "Close an audio session when it is no longer needed: frees its memory and deletes its stored data. The "
    "session_id stops working.")
"""What the model reads about the tool."""


class CloseAudioSessionInput(SessionInput):
    pass


class CloseAudioSessionTool(AudioTool):
    name: str = "close_audio_session"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = CloseAudioSessionInput

    def _call(self, session_id: str) -> tuple[str, Any]:
        self.store.close(session_id)
        return f"Closed session {session_id}; its data is deleted.", {"session_id": session_id, "closed": True}
