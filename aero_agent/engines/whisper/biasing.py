"""Contextual biasing: shallow fusion of a vocabulary's token trie into the decoder's next-token logits.

Each listed term is tokenised as the decoder writes it inside a sentence (after a space, as listed and with its
first letter capitalised) and the token sequences form a trie. At every step a row's text so far is matched
against the trie: a token that starts a term (where the decoder already gives it some probability), or
continues one the row is in the middle of, gets a bonus. The bonus grows along the term (the path's score, as in contextual-biasing work on attention decoders): a step at
depth ``d`` of a term gets ``bonus * (d + 1)`` against the tokens that leave it, which both pulls the decoder
through a name it has started and takes back, relative to every other path, what the term's first tokens were
given when the term is not completed. A finished term gets nothing more, and timestamps are never boosted.

The rule is stateless (it reads only the row's tokens), so it works unchanged for any number of rows, greedy or
beam. It adds the bonuses of a batch in one scatter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

import math

import torch

from aero_agent.engines.whisper.decoding import Row

DEFAULT_BONUS = 2.0
"""Logit bonus per token of a listed term (chosen on the tuning half: see BENCHMARKS.md, Vocabulary)."""
DEFAULT_MIN_START_P = 0.02
"""A term's first token is boosted only where the decoder already gives it this probability: without the gate,
the first pieces of 140 listed terms (" Th", " E", " No", " Fire") pulled common words apart ("thy" -> "thine",
"easy" -> "E.C.") and dropped punctuation; a term the decoder has begun is always pulled through."""


class _Encodes(Protocol):
    def encode(self, text: str, add_special_tokens: bool = ...) -> object: ...


@dataclass
class _Node:
    children: dict[int, "_Node"] = field(default_factory=dict)
    depth: int = 0


def term_variants(term: str) -> list[str]:
    """The spellings a term is boosted in: as listed, and with a capital first letter (a sentence's start)."""
    variants = [term]
    if term[:1].islower():
        variants.append(term[:1].upper() + term[1:])
    return variants


def term_token_sequences(tokenizer: _Encodes, terms: Sequence[str]) -> list[tuple[int, ...]]:
    """Each term's token sequences as the decoder writes them after a space (see :func:`term_variants`)."""
    out: list[tuple[int, ...]] = []
    for term in terms:
        for variant in term_variants(term):
            ids = tuple(tokenizer.encode(" " + variant, add_special_tokens=False).ids)  # type: ignore[attr-defined]
            if ids and ids not in out:
                out.append(ids)
    return out


class TokenTrie:
    """Token sequences as a trie: which tokens continue a row's text into a listed sequence, and how deep."""

    def __init__(self, sequences: Sequence[tuple[int, ...]]) -> None:
        self.root = _Node()
        self.longest = 0
        for seq in sequences:
            node = self.root
            for token in seq:
                node = node.children.setdefault(token, _Node(depth=node.depth + 1))
            self.longest = max(self.longest, len(seq))
        self.starts = torch.tensor(sorted(self.root.children), dtype=torch.long)

    def open_nodes(self, tokens: Sequence[int]) -> list[_Node]:
        """Trie nodes (other than the root) that a suffix of ``tokens`` reaches and that can still continue."""
        found: list[_Node] = []
        n = len(tokens)
        for begin in range(max(0, n - self.longest + 1), n):
            node: _Node | None = self.root
            for token in tokens[begin:]:
                node = node.children.get(token) if node is not None else None
                if node is None:
                    break
            if node is not None and node.children:
                found.append(node)
        return found


@dataclass
class VocabularyBias:
    """The :class:`~aero_agent.engines.whisper.decoding.LogitRule` that boosts a vocabulary's tokens."""

    trie: TokenTrie
    bonus: float = DEFAULT_BONUS
    timestamp_begin: int | None = None  # text tokens only: a row's timestamps break a match
    min_start_p: float = DEFAULT_MIN_START_P

    @classmethod
    def of(cls, tokenizer: _Encodes, terms: Sequence[str], bonus: float = DEFAULT_BONUS,
           timestamp_begin: int | None = None, min_start_p: float = DEFAULT_MIN_START_P) -> "VocabularyBias":
        return cls(TokenTrie(term_token_sequences(tokenizer, terms)), bonus, timestamp_begin, min_start_p)

    def apply(self, logits: torch.Tensor, rows: Sequence[Row]) -> None:
        if not self.trie.root.children or self.bonus == 0.0:
            return
        slots: list[int] = []
        tokens: list[int] = []
        values: list[float] = []
        for slot, row in enumerate(rows):
            boost: dict[int, float] = {}
            for node in self.trie.open_nodes(self._text_tail(row.tokens)):
                gain = self.bonus * (node.depth + 1)
                for token in node.children:
                    if boost.get(token, 0.0) < gain:
                        boost[token] = gain
            slots += [slot] * len(boost)
            tokens += list(boost)
            values += list(boost.values())
        # a term's first tokens, in every row, where the decoder already finds them plausible
        starts = self.trie.starts
        floor = math.log(self.min_start_p) if self.min_start_p > 0 else -math.inf
        plausible = torch.log_softmax(logits, dim=-1)[:, starts] >= floor
        start_bonus = plausible.to(logits.dtype) * self.bonus
        logits[:, starts] += start_bonus
        if slots:  # a term begun: its next tokens get their path score, whatever the decoder thinks of them
            row, token = torch.tensor(slots), torch.tensor(tokens)
            at = torch.searchsorted(starts, token).clamp_max(len(starts) - 1)
            given = torch.where(starts[at] == token, start_bonus[row, at], 0.0)  # a start's bonus, replaced
            logits.index_put_((row, token), torch.tensor(values, dtype=logits.dtype) - given, accumulate=True)

    def _text_tail(self, tokens: Sequence[int]) -> Sequence[int]:
        """The row's last tokens, back to its last timestamp (a term never spans one)."""
        tail = tokens[-self.trie.longest:] if self.trie.longest else []
        if self.timestamp_begin is not None:
            for k in range(len(tail) - 1, -1, -1):
                if tail[k] >= self.timestamp_begin:
                    return tail[k + 1:]
        return tail
