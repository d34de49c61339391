"""``list_voices``: the named voices of the store, with the sessions each was heard in."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from aero_agent.voices.render import voices_text
from langchain_aero.base import AudioTool


DESCRIPTION = (
    "List the named voices (people) the store recognises: each name, its sessions, talk time and when last "
    "heard. Pass a name as speaker to search_library to hear what that person said in any recording.")
"""What the model reads about the tool."""


class ListVoicesInput(BaseModel):
    pass


class ListVoicesTool(AudioTool):
    name: str = "list_voices"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = ListVoicesInput

    def _call(self) -> tuple[str, Any]:
        found = self.store.voices.list()
        return self._clip(voices_text(found), "list cut; the artifact holds every voice"), \
            {"voices": [v.model_dump() for v in found]}
