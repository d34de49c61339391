"""Contextual biasing: shallow fusion of a vocabulary's token trie into the decoder's next-token logits.

Each listed term is tokenised as the decoder writes it inside a sentence (after a space, as listed and with its
first letter capitalised) and the token sequences form a trie. At every step a row's text so far is matched
against the trie: a token that starts a term (where the decoder already gives it some probability), or
continues one the row is in the middle of, gets a bonus. The bonus grows along the term (the path's score, as in
contextual-biasing work on attention decoders): a step at depth ``d`` of a term gets ``bonus * (d + 1)`` against
the tokens that leave it, which both pulls the decoder through a name it has started and takes back, relative to
every other path, what the term's first tokens were given when the term is not completed. A finished term gets
nothing more, and timestamps are never boosted.

Known cost of pulling terms through: a listed term whose first token begins a word the speaker says is
completed anyway ("Abbie" listed alone turns the spoken "Abigail Claflin" into "Abbie Guele"); listing the
full name ("Abigail Claflin") avoids it. Gating the next tokens too (``continuation_min_p``) avoids it but lost
most multi-token terms on the tuning half.

The rule is stateless (it reads only the row's tokens), so it works unchanged for any number of rows, greedy or
beam. It adds the bonuses of a batch in one scatter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, Sequence

import torch

from aero_agent.engines.whisper.decoding import Row

DEFAULT_BONUS = 4.0
"""Logit bonus per token of a listed term (chosen on the tuning half with the gate below: BENCHMARKS.md, Custom
vocabulary)."""
DEFAULT_MIN_P = 0.1
"""A term's first token is boosted only where the decoder already gives it this probability. Ungated, the first
pieces of 140 listed terms (" Th", " E", " No", " Fire") pulled common words apart ("thy" -> "thine", "easy" ->
"E.C.", "Firefox" -> "Fire Fox"): at bonus 2 the distractors alone raised other-word WER 4.29 -> 4.69 % (tuning)
and 7.66 -> 9.04 % (checking); at bonus 4 the whole list raised it to 9.59 / 22.40 %. Gated at 0.1, bonus 4:
3.67 / 7.86 % (BENCHMARKS.md, Custom vocabulary)."""


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
    min_p: float = DEFAULT_MIN_P
    continuation_min_p: float = 0.0
    """Also gate a begun term's next tokens by the decoder's own probability (0: never). Measured at 0.03: the
    checking half kept every listed word, but the tuning half found 3 of 9 against 7 of 9 ungated (multi-token
    names such as "Montreal Forced Aligner" were left half-way); an ungated term begun is pulled through."""

    @classmethod
    def of(cls, tokenizer: _Encodes, terms: Sequence[str], bonus: float = DEFAULT_BONUS,
           timestamp_begin: int | None = None, min_p: float = DEFAULT_MIN_P) -> "VocabularyBias":
        return cls(TokenTrie(term_token_sequences(tokenizer, terms)), bonus, timestamp_begin, min_p)

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
        floor = math.log(self.min_p) if self.min_p > 0 else -math.inf
        logprobs = torch.log_softmax(logits, dim=-1)
        plausible = logprobs[:, starts] >= floor
        start_bonus = plausible.to(logits.dtype) * self.bonus
        row, token = torch.tensor(slots, dtype=torch.long), torch.tensor(tokens, dtype=torch.long)
        gate = math.log(self.continuation_min_p) if self.continuation_min_p > 0 else -math.inf
        keep = logprobs[row, token] >= gate
        logits[:, starts] += start_bonus
        if bool(keep.any()):  # a term begun: its next tokens get their path score
            row, token, values = row[keep], token[keep], [v for v, k in zip(values, keep.tolist()) if k]
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
