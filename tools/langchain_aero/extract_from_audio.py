"""``extract_from_audio``: structured data from a session, validated against an optional JSON Schema."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from langchain_aero.base import AudioTool, SessionInput


DESCRIPTION = (
    "Extract structured data (JSON validated against an optional JSON Schema) from an open audio session, "
    "following an instruction. Needs an answer-capable engine or a reasoner model; otherwise it says so, and "
    "search_audio or transcribe_audio can be used instead.")
"""What the model reads about the tool."""


class ExtractFromAudioInput(SessionInput):
    instruction: str = Field(description="What to extract, e.g. 'List the action items with their owners'.")
    json_schema: dict[str, Any] | str | None = Field(
        default=None,
        description="Optional JSON Schema (an object, or its JSON text) the result must validate against; its "
                    "top-level type must be object or array. Omit for {\"items\": [strings]}.")


class ExtractFromAudioTool(AudioTool):
    name: str = "extract_from_audio"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = ExtractFromAudioInput

    def _call(self, session_id: str, instruction: str,
              json_schema: dict[str, Any] | str | None = None) -> tuple[str, Any]:
        session = self._session(session_id)
        if isinstance(json_schema, str) and not json_schema.strip():
            json_schema = None
        extraction = session.extract(json_schema, instruction)
        body = json.dumps(extraction.data, indent=2, ensure_ascii=False)
        text = f"Extracted (method {extraction.method}):\n{body}"
        artifact = {"session_id": session_id, **extraction.model_dump()}
        return self._clip(text, "JSON cut; the artifact holds all of it"), artifact
