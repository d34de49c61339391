"""The custom vocabulary: the argument the opening and transcribing tools take, and the store's list."""

# No ``from __future__ import annotations``: the SDK reads these signatures at registration time.

from typing import Annotated, Literal

from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from aero_agent.vocabulary import MAX_TERM_CHARS, MAX_TERMS, change_store_vocabulary, vocabulary_text
from aero_mcp.registry import OPENS, App, result, tool

VocabularyArg = Annotated[list[Annotated[str, Field(max_length=MAX_TERM_CHARS)]] | None, Field(
    max_length=MAX_TERMS, description=(
        "Names, products and jargon to spell exactly as written (e.g. [\"Ebenezer\", \"Kubernetes\"]): used in "
        "every decode of the session, after the store's own list."))]


class StoreVocabulary(BaseModel):
    """The store's vocabulary: applied to every session the store opens."""

    terms: list[str]
    message: str


@tool("The store's vocabulary", OPENS)
async def store_vocabulary(
    app: App,
    action: Annotated[Literal["list", "add", "remove", "set"], Field(
        description="list: read it; add/remove: change it by these terms; set: replace it with them.")] = "list",
    terms: VocabularyArg = None,
) -> Annotated[CallToolResult, StoreVocabulary]:
    """Read or change the vocabulary kept in the store (a team's names, products and jargon). Every session
    opened afterwards (open_audio, start_live_session) is decoded with it; sessions already open keep theirs
    (transcribe_audio with vocabulary decodes a stretch again)."""
    store = await app.backend.store()
    current = await app.backend.run(change_store_vocabulary, store.root, action, terms, what="the vocabulary")
    found = StoreVocabulary(terms=list(current), message=vocabulary_text(current).split("\n")[0])
    return result(found, vocabulary_text(current))
