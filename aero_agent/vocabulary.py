"""A user's vocabulary: names, products and jargon the recogniser should spell as listed.

One :class:`Vocabulary` type for the three scopes (a call, a session, a store): terms are stripped, empty and
duplicate terms (case-insensitive, the first spelling kept) dropped, control characters refused, each term at most
:data:`MAX_TERM_CHARS` characters and a list at most :data:`MAX_TERMS` terms. The store keeps its list in one
file (:data:`STORE_FILE`), written atomically. The terms are the user's data: never logged.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from aero_agent.errors import InvalidArgumentError
from aero_agent.persistence.atomic import write_json
from aero_agent.persistence.layout import VOCABULARY as STORE_FILE

if TYPE_CHECKING:
    from aero_agent.transcription import TranscribeOptions

MAX_TERM_CHARS = 50
MAX_TERMS = 300
"""Terms in one list (a call's, a session's and its store's together). Every term is biased in every decode
(a token trie, whose cost grows with the list); the prompt that the Whisper engine may add holds only as many
terms as fit half its 224-token context, the rest of the list is still biased."""


class VocabularyError(InvalidArgumentError):
    """A vocabulary term or list that cannot be used (too long, too many, control characters, not text)."""


def _check_term(term: object) -> str:
    if not isinstance(term, str):
        raise VocabularyError(f"a vocabulary term must be a string, got {type(term).__name__}")
    text = " ".join(term.split())  # inner runs of spaces as one: the decoder writes one
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in term if ch not in " \t"):
        raise VocabularyError("a vocabulary term holds a control character; give plain text, one term per entry")
    if len(text) > MAX_TERM_CHARS:
        raise VocabularyError(f"a vocabulary term is {len(text)} characters; the limit is {MAX_TERM_CHARS}")
    return text


@dataclass(frozen=True)
class Vocabulary:
    """Terms to recognise as spelled here (checked, deduplicated, in the order given)."""

    terms: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.terms, str) or not isinstance(self.terms, (tuple, list)):
            raise VocabularyError("a vocabulary is a list of terms, e.g. ['Ebenezer', 'Kubernetes']")
        seen: set[str] = set()
        kept: list[str] = []
        for term in self.terms:
            text = _check_term(term)
            if text and text.casefold() not in seen:
                seen.add(text.casefold())
                kept.append(text)
        if len(kept) > MAX_TERMS:
            raise VocabularyError(f"a vocabulary holds {len(kept)} terms; the limit is {MAX_TERMS}")
        object.__setattr__(self, "terms", tuple(kept))

    @classmethod
    def of(cls, value: "Vocabulary | Iterable[str] | str | None") -> "Vocabulary":
        """A vocabulary from a skin's loose value: a list of terms, a comma-separated string, or None."""
        if value is None:
            return cls()
        if isinstance(value, Vocabulary):
            return value
        if isinstance(value, str):
            return cls(tuple(value.split(",")))
        if isinstance(value, (list, tuple)):
            return cls(tuple(value))
        raise VocabularyError(f"vocabulary must be a list of terms, got {type(value).__name__}")

    @classmethod
    def read(cls, path: str | Path) -> "Vocabulary":
        """One term a line from a text file (blank lines and lines starting with ``#`` skipped)."""
        try:
            text = Path(path).expanduser().read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise VocabularyError(f"cannot read the vocabulary file {path}: {exc}") from exc
        lines = [line.strip() for line in text.splitlines()]
        return cls(tuple(line for line in lines if line and not line.startswith("#")))

    def __bool__(self) -> bool:
        return bool(self.terms)

    def __len__(self) -> int:
        return len(self.terms)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.terms)

    def __or__(self, other: "Vocabulary") -> "Vocabulary":
        """Both lists, this one's terms first (a duplicate keeps this spelling)."""
        return Vocabulary(self.terms + other.terms)

    def without(self, terms: Iterable[str]) -> "Vocabulary":
        """This list less ``terms`` (compared case-insensitively)."""
        gone = {_check_term(t).casefold() for t in terms}
        return Vocabulary(tuple(t for t in self.terms if t.casefold() not in gone))

    def __repr__(self) -> str:  # the terms are the user's: a repr in a log shows only their number
        return f"Vocabulary({len(self.terms)} terms)"


def name_terms(names: Iterable[str], room: int = MAX_TERMS) -> Vocabulary:
    """Names (an enrolled voice's) as vocabulary terms: those that can be a term (a name over
    :data:`MAX_TERM_CHARS` characters is left out, not refused), at most ``room`` of them, in the order given."""
    kept: list[str] = []
    for name in names:
        try:
            kept.append(_check_term(name))
        except VocabularyError:
            continue
    return Vocabulary(tuple(Vocabulary(tuple(kept)).terms[:max(0, room)]))


def enrolled_names(root: str | Path, room: int = MAX_TERMS) -> Vocabulary:
    """The names of the voices enrolled in the store at ``root`` (its voice library), as :func:`name_terms`:
    they join the store's list for every new decode. Names only: never a voice's embeddings."""
    from aero_agent.voices.library import VoiceLibrary

    return name_terms((voice.name for voice in VoiceLibrary(root).read().voices.values()), room)


def decode_options(engine: object, transcription: "TranscribeOptions",
                   added: "Callable[[Vocabulary], Vocabulary] | None") -> "TranscribeOptions":
    """What a decode is given: ``transcription`` with the terms ``added`` gives for its list (a store's enrolled
    voice names), where the engine takes a vocabulary (it checks its options itself); else unchanged."""
    if added is None or getattr(engine, "check_options", None) is None:
        return transcription
    return transcription.with_vocabulary(added(transcription.vocabulary))


def read_store_vocabulary(root: str | Path) -> Vocabulary:
    """The list kept in the store at ``root`` (empty when none was set)."""
    path = Path(root) / STORE_FILE
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return Vocabulary()
    except (OSError, ValueError) as exc:
        raise VocabularyError(f"the store's vocabulary file {path} cannot be read: {exc}") from exc
    return Vocabulary(tuple(data.get("terms", [])) if isinstance(data, dict) else ())


def write_store_vocabulary(root: str | Path, vocabulary: Vocabulary) -> None:
    """Replace the store's list (atomically, readable by its owner only, as the store's other files)."""
    path = Path(root) / STORE_FILE
    write_json(path, {"terms": list(vocabulary.terms)})


ACTIONS = ("list", "add", "remove", "set")


def change_store_vocabulary(root: str | Path, action: str, terms: "Vocabulary | Iterable[str] | None" = None
                            ) -> Vocabulary:
    """The store's list after ``action`` (``list`` reads it; ``add``/``remove`` change it by ``terms``; ``set``
    replaces it with them), saved when changed: what the CLI and both skins call."""
    if action not in ACTIONS:
        raise VocabularyError(f"unknown vocabulary action {action!r}; use {', '.join(ACTIONS)}")
    current = read_store_vocabulary(root)
    if action == "list":
        return current
    given = Vocabulary.of(terms if not isinstance(terms, (list, tuple)) else tuple(terms))
    updated = {"add": current | given, "remove": current.without(given), "set": given}[action]
    write_store_vocabulary(root, updated)
    return updated


def vocabulary_text(vocabulary: Vocabulary) -> str:
    """The store's list as the skins show it: a count, then one term a line."""
    head = f"The store's vocabulary holds {len(vocabulary)} term{'s' if len(vocabulary) != 1 else ''}."
    return "\n".join([head, *vocabulary.terms])
