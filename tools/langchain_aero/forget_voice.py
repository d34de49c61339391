"""``forget_voice``: remove a named voice completely (destructive)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from langchain_aero.base import AudioTool

DESCRIPTION = (
    "Forget a named voice for good: its voice embeddings are deleted and every speaker labelled with it becomes "
    "an anonymous SPEAKER_xx again. Destructive: it cannot be undone. Refused while a session using the voice "
    "is still encoding.")
"""What the model reads about the tool."""


class ForgetVoiceInput(BaseModel):
    name: str = Field(description="The voice's name (or id) as list_voices shows it.")


class ForgetVoiceTool(AudioTool):
    name: str = "forget_voice"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = ForgetVoiceInput

    def _call(self, name: str) -> tuple[str, Any]:
        self.store.voices.forget(name)
        return f"Forgot {name}: its voice data and every label pointing to it are gone.", {"forgotten": name}
