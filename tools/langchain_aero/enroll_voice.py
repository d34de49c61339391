"""``enroll_voice``: learn a named voice from sample recordings of that voice alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, Field, field_validator

from aero_agent.paths import allowed_roots, resolve_allowed
from aero_agent.voices.render import voice_line
from langchain_aero.base import AudioTool

DESCRIPTION = (
    "Learn a person's voice from one or more recordings of that voice alone (5 s to a few minutes each), so it "
    "is recognised by name in every session opened with speakers=true. A name already taken is refused unless "
    "merge=true (then the samples add to that voice).")
"""What the model reads about the tool."""


class EnrollVoiceInput(BaseModel):
    name: str = Field(description="The person's name.")
    paths: list[str] = Field(min_length=1, description="Sample files of this voice alone, inside the allowed folders.")
    merge: bool = Field(default=False, description="Add to the existing voice when the name is taken.")


class EnrollVoiceTool(AudioTool):
    name: str = "enroll_voice"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = EnrollVoiceInput
    toolkit_fields: ClassVar[tuple[str, ...]] = ("allowed_dirs",)

    allowed_dirs: list[Path] = Field(default_factory=lambda: allowed_roots(None),
                                     description="Folders sample files may be read from (default: current directory).")

    @field_validator("allowed_dirs", mode="before")
    @classmethod
    def _resolve_dirs(cls, value: Any) -> list[Path]:
        return allowed_roots(None if value is None else ([value] if isinstance(value, (str, Path)) else value))

    def _call(self, name: str, paths: list[str], merge: bool = False) -> tuple[str, Any]:
        files = [resolve_allowed(p, self.allowed_dirs) for p in paths]
        info = self.store.voices.enroll(name, files, merge=merge)
        return f"Enrolled {info.name}. {voice_line(info)}", info.model_dump()
