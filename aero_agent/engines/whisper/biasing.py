"""Contextual biasing: shallow fusion of a vocabulary's token trie into the decoder's next-token logits.

Each listed term is tokenised as the decoder writes it inside a sentence (after a space, as listed and with its
first letter capitalised) and the token sequences form a trie. At every step a row's text so far is matched
against the trie: a token that starts a term (where the decoder already gives it some probability), or
continues one the row is in the middle of, gets a bonus. The bonus grows along the term (the path's score, as in
contextual-biasing work on attention decoders): a step at depth ``d`` of a term gets ``bonus * (d + 1)`` against
the tokens that leave it, which both pulls the decoder through a name it has started and takes back, relative to
every other path, what the term's first tokens were given when the term is not completed. A finished term gets
nothing more, and timestamps are never boosted.

A term's first token is never boosted where it is a strict prefix (ignoring case) of the token the decoder
itself would write next (the split guard): boosting it would split the word being written, and the 140
distractors' first pieces did ("thy" -> "th"+"ine", "Firefox" -> "Fire Fox", "clubs" -> "Cl"+"obes").
And a first token's bonus is scaled by the share of its term's letters it writes (:func:`start_shares`): a
one-letter piece such as " I" (of "Ingibjorg") or " E" is weak evidence that the term is being said, and at the
full bonus it replaced "and" with "I am" and "easy" with "EZ"; a whole word (" Montreal") keeps the full bonus.
Per-clip decodes, 12 listed terms + 140 distractors (BENCHMARKS.md, Custom vocabulary): the distractors alone
moved other-word WER +0.41 / +1.38 points (tuning / checking) without these two guards, +0.41 / +0.20 with the
split guard, 0.00 / -0.19 with both; recall of the listed words 78 % / 80 % throughout.

Known cost of pulling terms through: a listed term whose first token begins a word the speaker says is
completed anyway ("Abbie" listed alone turns the spoken "Abigail Claflin" into "Abbie Guele"); listing the
full name ("Abigail Claflin") avoids it. Gating the next tokens too (``continuation_min_p``) avoids it but lost
most multi-token terms on the tuning half; gating them only where the decoder continues the same word otherwise
(``rewrite_min_p``) changed nothing on the tuning half and lost "churl" on the checking half (off).

The rule is stateless (it reads only the row's tokens), so it works for any number of rows, greedy or beam. It
adds the bonuses of a batch in one scatter. It was tuned and measured with greedy search, and a call with a
vocabulary decodes greedily unless the caller asks for beams (``WhisperEngine._call_decoding``): under beam
search the growing path score makes a long begun term nearly free for a hypothesis, and length normalisation
then prefers it ("Abigail Claflin" and "Abbie" listed: "call me Abbie" became "call me Abigail Claflin").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator, Protocol, Sequence

import torch

from aero_agent.engines.whisper.decoding import Bonus, Row, best_tokens

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
    timestamp_begin: int | None = None  # text tokens only: a timestamp leaves any term
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
           timestamp_begin: int | None = None, min_p: float = DEFAULT_MIN_P, split_guard: bool = True,
           rewrite_min_p: float = 0.0, by_share: bool = True) -> "VocabularyBias":
        trie = TokenTrie(term_token_sequences(tokenizer, terms))
        texts = _PieceTexts(tokenizer, trie.starts.tolist()) if split_guard or rewrite_min_p else None
        if by_share:
            mark_shares(tokenizer, terms, trie)
        return cls(trie, bonus, timestamp_begin, min_p, texts=texts, rewrite_min_p=rewrite_min_p)

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
        kept, pending = row.bonus.kept, row.bonus.pending + gain
        if len(row.tokens) != place.seen + 1:  # not one step on (never in a search): begin again
            node, pending = self.trie.root, 0.0
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
