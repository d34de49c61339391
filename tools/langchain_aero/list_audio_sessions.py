"""``list_audio_sessions``: every session in the store with its status."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from aero_agent.render import status_line
from langchain_aero.base import AudioTool, session_artifact


DESCRIPTION = (
    "List the open audio sessions with their ids, file names, durations, engines, status (encoding progress) "
    "and number of turns.")
"""What the model reads about the tool."""


class ListAudioSessionsInput(BaseModel):
    """No arguments."""


class ListAudioSessionsTool(AudioTool):
    name: str = "list_audio_sessions"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = ListAudioSessionsInput

    def _call(self) -> tuple[str, Any]:
        infos = self.store.list()
        if not infos:
            return "No audio sessions are open. Call open_audio with a file path to open one.", []
        text = f"{len(infos)} open session{'s' if len(infos) != 1 else ''}, newest first:\n" + "\n".join(
            f"- {status_line(i)}" for i in infos)
        return self._clip(text, "list cut; the artifact holds every session"), [session_artifact(i) for i in infos]
