"""``store_vocabulary``: read or change the vocabulary the store applies to every session it opens."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from aero_agent.vocabulary import ACTIONS, MAX_TERM_CHARS, MAX_TERMS, change_store_vocabulary, vocabulary_text
from langchain_aero.base import AudioTool

DESCRIPTION = (
    "Read or change the store's vocabulary: names, products and jargon every session opened afterwards is "
    "transcribed with (open_audio, start_live_session). action list reads it; add/remove change it by terms; "
    "set replaces it. Sessions already open keep theirs (transcribe_audio with vocabulary decodes a stretch again).")
"""What the model reads about the tool."""


def vocabulary_field() -> Any:
    """The ``vocabulary`` argument of open_audio, transcribe_audio and start_live_session."""
    return Field(default=None, max_length=MAX_TERMS, description=(
        f"Names, products and jargon to spell exactly as written (each at most {MAX_TERM_CHARS} characters), "
        "e.g. [\"Ebenezer\", \"Kubernetes\"]: used in every decode of the session, after the store's own list."))


class StoreVocabularyInput(BaseModel):
    action: Literal["list", "add", "remove", "set"] = Field(default="list", description=(
        "list: read it; add/remove: change it by these terms; set: replace it with them."))
    terms: list[str] | None = vocabulary_field()


assert set(StoreVocabularyInput.model_fields["action"].annotation.__args__) == set(ACTIONS)  # type: ignore[union-attr]


class StoreVocabularyTool(AudioTool):
    name: str = "store_vocabulary"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = StoreVocabularyInput

    def _call(self, action: str = "list", terms: list[str] | None = None) -> tuple[str, Any]:
        current = change_store_vocabulary(self.store.root, action, terms)
        return vocabulary_text(current), {"terms": list(current)}
