"""Contextual biasing: shallow fusion of a vocabulary's token trie into the decoder's search.

Each listed term is tokenised as the decoder writes it inside a sentence (after a space, as listed and with its
first letter capitalised) and the token sequences form a trie. Every row the search extends (a greedy window, or
each hypothesis of a beam) carries its own place in the trie and two bonuses (:class:`~aero_agent.engines.
whisper.decoding.Bonus`): ``pending``, what it was given for the term it is writing, and ``kept``, what the terms
it finished are worth. The bias adds to the next-token log-probabilities (after the softmax, so the model's own
log-probability stays apart: the guards read that): a node of the trie is worth the bonus times the share of its
term's letters written up to it (:func:`mark_shares`), a token that moves the row to a node gets that node's
worth less what the row holds, and every other token (an end of text and timestamps too) takes the pending bonus
back. A finished term's worth is kept. So a term begun and left costs nothing and gains nothing, and a finished
term is worth the same whether it is one token or six: under beam search a longer term no longer wins by bonus
("Abigail Claflin" and "Abbie" listed: session 25's rule, which boosted logits that were then renormalised, with
a path score growing along the term, read "call me Abbie" as "call me Abigail Claflin" under beam 5). The search
ranks hypotheses by log-probability plus what they hold, and ended readings by log-probability plus what they
keep (``search._final``): an unfinished term counts for nothing in the choice.

A term's first token gets a bonus only where the decoder already finds it plausible (:data:`DEFAULT_MIN_P`), and
never where it is a strict prefix (ignoring case) of the token the decoder itself would write next (the split
guard): boosting it would split the word being written, and the 140 distractors' first pieces did ("thy" ->
"th"+"ine", "Firefox" -> "Fire Fox", "clubs" -> "Cl"+"obes"). The share of letters makes a one-letter first
piece (" I" of "Ingibjorg") weak evidence that the term is being said (at the full bonus it replaced "and" with
"I am"). Gating a begun term's next token where the decoder continues the same word otherwise (``rewrite_min_p``)
was measured with greedy search and is off.

The same rule serves greedy decoding (a beam of one, where a token once written is never taken back) and beam
search; the engine's :class:`~aero_agent.engines.whisper.search.BeamPolicy` decides which, with or without a
vocabulary. Measured in BENCHMARKS.md, "Custom vocabulary".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator, Protocol, Sequence

import torch

from aero_agent.engines.whisper.decoding import Bonus, Row, best_tokens

DEFAULT_BONUS = 8.0
"""What a finished term adds to a reading's log-probability (its tokens get it by the share of the term they write).
Chosen on the tuning half under the engine's default decoding (beam 5 for these short clips), as the smallest
bonus that meets the targets there (BENCHMARKS.md, Custom vocabulary): recall of the listed words 22 -> 78 % with
other-word WER unchanged (3.06 %); 3 and 4 found 44 %, 6 56 %, 10 and 12 89 % (WER 2.86 %). Greedy decoding (a
beam of one: recordings over a minute, live sessions) gains less from it and loses more: at 8, 67 % and +0.61
points of other words on the tuning half."""
DEFAULT_MIN_P = 0.1
"""A term's first token is boosted only where the decoder already gives it this probability. Ungated, the first
pieces of 140 listed terms (" Th", " E", " No", " Fire") pulled common words apart ("thy" -> "thine", "easy" ->
"E.C.", "Firefox" -> "Fire Fox"): at bonus 2 the distractors alone raised other-word WER 4.29 -> 4.69 % (tuning)
and 7.66 -> 9.04 % (checking); at bonus 4 the whole list raised it to 9.59 / 22.40 %. Gated at 0.1, bonus 4:
3.67 / 7.86 % (session 24's rule, greedy; BENCHMARKS.md, Custom vocabulary)."""


class _Encodes(Protocol):
    def encode(self, text: str, add_special_tokens: bool = ...) -> object: ...

    def decode(self, ids: list[int]) -> str: ...


@dataclass(eq=False)
class _Node:
    children: dict[int, "_Node"] = field(default_factory=dict)
    depth: int = 0
    end: bool = False
    """A listed term ends here (it may also go on into a longer one)."""
    share: float | None = None
    """The largest share of a listed term's letters written up to here (None: not measured)."""
    score: float = 0.0
    """The bonus a row holds when it stands here (set by :class:`VocabularyBias`)."""


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
    """Token sequences as a trie (a listed sequence's last node is an ``end``)."""

    def __init__(self, sequences: Sequence[tuple[int, ...]]) -> None:
        self.root = _Node()
        for seq in sequences:
            node = self.root
            for token in seq:
                node = node.children.setdefault(token, _Node(depth=node.depth + 1))
            node.end = True
        self.starts = torch.tensor(sorted(self.root.children), dtype=torch.long)

    def nodes(self) -> Iterator[_Node]:
        """Every node but the root, parents before children."""
        stack = list(self.root.children.values())
        while stack:
            node = stack.pop()
            yield node
            stack.extend(node.children.values())


@dataclass(frozen=True)
class _Place:
    """Where a row stands in the trie after its first ``seen`` tokens, and where each token that moves in the trie
    would take it, with the bonus that step adds (every other token leaves: it takes the pending bonus back)."""

    node: _Node
    seen: int
    moves: dict[int, tuple[_Node, float]]


class _PieceTexts:
    """The text of each token (cached), and which of a trie's start tokens are strict prefixes of a token's text."""

    def __init__(self, tokenizer: _Encodes, starts: Sequence[int]) -> None:
        self._tokenizer = tokenizer
        self._texts: dict[int, str] = {}
        self._start_at: dict[str, list[int]] = {}  # lower-case text -> indexes into ``starts``
        for k, token in enumerate(starts):
            self._start_at.setdefault(self.text(token).lower(), []).append(k)

    def text(self, token: int) -> str:
        if token not in self._texts:
            self._texts[token] = self._tokenizer.decode([token])
        return self._texts[token]

    def starts_splitting(self, token: int) -> list[int]:
        """Start tokens (indexes) whose text is a strict prefix of ``token``'s: boosting one would split the word
        the decoder is writing ("thy" -> "th"+"ine", "Firefox" -> "Fire Fox")."""
        text = self.text(token).lower()
        return [k for end in range(1, len(text)) for k in self._start_at.get(text[:end], ())]


def mark_shares(tokenizer: _Encodes, terms: Sequence[str], trie: TokenTrie) -> None:
    """Set each node's :attr:`_Node.share`: the largest share of a term's letters written up to it (" I" of
    "Ingibjorg": 1/9; " Montreal" of "Montreal Forced Aligner": 8/21; a term's last token: 1)."""
    for term in terms:
        letters = max(1, len(term.replace(" ", "")))
        for seq in term_token_sequences(tokenizer, [term]):
            node = trie.root
            for depth, token in enumerate(seq, 1):
                node = node.children[token]
                written = len(tokenizer.decode(list(seq[:depth])).replace(" ", ""))
                node.share = max(node.share or 0.0, min(1.0, written / letters))


@dataclass
class VocabularyBias:
    """The :class:`~aero_agent.engines.whisper.decoding.Fusion` that favours a vocabulary's terms: each row (a
    greedy window or a beam hypothesis) carries its place in the trie and the bonus it holds there."""

    trie: TokenTrie
    bonus: float = DEFAULT_BONUS
    min_p: float = DEFAULT_MIN_P
    texts: _PieceTexts | None = None
    """The tokens' texts; with them a term's first token is not boosted where it is a strict prefix of the
    decoder's own choice (:meth:`_PieceTexts.starts_splitting`), and :attr:`rewrite_min_p` can apply."""
    rewrite_min_p: float = 0.0
    """Gate a begun term's next token, where it and the decoder's own choice both continue the word being
    written, by the decoder's probability (0: never): a term pulled through may end or change words, but not
    respell a word the decoder is sure of ("Abbie" listed, "Abigail" spoken)."""

    def __post_init__(self) -> None:
        for node in self.trie.nodes():  # by the share of its term written, else the path score (k bonuses)
            node.score = self.bonus * (node.share if node.share is not None else node.depth)

    @classmethod
    def of(cls, tokenizer: _Encodes, terms: Sequence[str], bonus: float = DEFAULT_BONUS,
           min_p: float = DEFAULT_MIN_P, split_guard: bool = True, rewrite_min_p: float = 0.0,
           by_share: bool = True) -> "VocabularyBias":
        """The bias of ``terms``; a timestamp, never a term's token, leaves any term begun."""
        trie = TokenTrie(term_token_sequences(tokenizer, terms))
        texts = _PieceTexts(tokenizer, trie.starts.tolist()) if split_guard or rewrite_min_p else None
        if by_share:
            mark_shares(tokenizer, terms, trie)
        return cls(trie, bonus, min_p, texts=texts, rewrite_min_p=rewrite_min_p)

    def fuse(self, logprobs: torch.Tensor, rows: Sequence[Row]) -> torch.Tensor:
        """``logprobs`` plus each row's bonus for its next token: a term's first token (where the decoder finds
        it plausible and it splits no word), or the next token of the term the row is writing, gets what its
        node is worth beyond the row's pending bonus; every other token takes the pending bonus back."""
        if not self.trie.root.children or self.bonus == 0.0:
            return logprobs
        nodes = [self._settle(row) for row in rows]
        starts = self.trie.starts
        floor = math.log(self.min_p) if self.min_p > 0 else -math.inf
        plausible = logprobs[:, starts] >= floor
        chosen = best_tokens(logprobs) if self.texts is not None else []  # the decoder's own choice
        if self.texts is not None:  # a first token that would split the word the decoder is writing: none
            for slot, token in enumerate(chosen):
                plausible[slot, self.texts.starts_splitting(token)] = False
        offered: list[list[int]] = [[] for _ in rows]
        for slot, k in plausible.nonzero().tolist():
            offered[slot].append(k)
        pending = [row.bonus.pending for row in rows]
        scores = logprobs - torch.tensor(pending, dtype=logprobs.dtype)[:, None] if any(pending) else logprobs.clone()
        slots: list[int] = []
        tokens: list[int] = []
        gains: list[float] = []
        start_ids = starts.tolist()
        for slot, (row, node) in enumerate(zip(rows, nodes)):
            moves: dict[int, tuple[_Node, float]] = {}
            for k in offered[slot]:  # a new term, leaving the one begun
                child = self.trie.root.children[start_ids[k]]
                moves[start_ids[k]] = (child, child.score - pending[slot])
            for token, child in (node.children.items() if node is not self.trie.root else ()):  # the term goes on
                if not self._respells(logprobs, slot, token, chosen):
                    moves[token] = (child, child.score - node.score)
            row.bonus = Bonus(row.bonus.kept, pending[slot], _Place(node, len(row.tokens), moves))
            for token, (_, gain) in moves.items():
                slots.append(slot)
                tokens.append(token)
                gains.append(gain + pending[slot])  # the row's scores are already ``pending`` lower
        if slots:
            scores.index_put_((torch.tensor(slots), torch.tensor(tokens)), torch.tensor(gains, dtype=scores.dtype),
                              accumulate=True)
        return scores

    def _settle(self, row: Row) -> _Node:
        """The row's node after its last token (its :attr:`Row.bonus` updated: a completed term's bonus kept, an
        unfinished one's taken back when left)."""
        place = row.bonus.place
        if not isinstance(place, _Place):
            return self.trie.root
        if len(row.tokens) == place.seen:
            return place.node
        node, gain = place.moves.get(row.tokens[-1], (self.trie.root, -row.bonus.pending))
        if len(row.tokens) != place.seen + 1:  # not one step on (never in a search): no term begun
            node, gain = self.trie.root, -row.bonus.pending
        kept, pending = row.bonus.kept, row.bonus.pending + gain
        if node.end:
            kept, pending = kept + pending, 0.0
        if not node.children:
            node = self.trie.root
        row.bonus = Bonus(kept, pending, None)
        return node

    def _respells(self, logprobs: torch.Tensor, slot: int, token: int, chosen: list[int]) -> bool:
        """Whether ``token`` would respell, against :attr:`rewrite_min_p`, the word the decoder is writing."""
        if self.texts is None or self.rewrite_min_p <= 0 or token == chosen[slot]:
            return False
        own, piece = self.texts.text(chosen[slot]), self.texts.text(token)
        return (own[:1].isalnum() and piece[:1].isalnum()
                and logprobs[slot, token].item() < math.log(self.rewrite_min_p))
