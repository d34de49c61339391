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

    def decode(self, ids: list[int]) -> str: ...


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


def start_shares(tokenizer: _Encodes, terms: Sequence[str], trie: TokenTrie) -> torch.Tensor:
    """For each start token of ``trie``, the largest share of a term's letters it writes (" I" of "Ingibjorg":
    1/9; " Montreal" of "Montreal Forced Aligner": 8/21): a short first piece is weak evidence for its term."""
    share: dict[int, float] = {}
    for term in terms:
        letters = max(1, len(term.replace(" ", "")))
        for seq in term_token_sequences(tokenizer, [term]):
            piece = len(tokenizer.decode([seq[0]]).strip())
            share[seq[0]] = max(share.get(seq[0], 0.0), min(1.0, piece / letters))
    return torch.tensor([share.get(t, 1.0) for t in trie.starts.tolist()])


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
    texts: _PieceTexts | None = None
    """The tokens' texts; with them a term's first token is not boosted where it is a strict prefix of the
    decoder's own choice (:meth:`_PieceTexts.starts_splitting`), and :attr:`rewrite_min_p` can apply."""
    start_scale: torch.Tensor | None = None
    """Per start token (aligned with ``trie.starts``), a factor on its bonus (None: 1): see :func:`start_shares`."""
    rewrite_min_p: float = 0.0
    """Gate a begun term's next token, where it and the decoder's own choice both continue the word being
    written, by the decoder's probability (0: never): a term pulled through may end or change words, but not
    respell a word the decoder is sure of ("Abbie" listed, "Abigail" spoken)."""

    @classmethod
    def of(cls, tokenizer: _Encodes, terms: Sequence[str], bonus: float = DEFAULT_BONUS,
           timestamp_begin: int | None = None, min_p: float = DEFAULT_MIN_P, split_guard: bool = True,
           rewrite_min_p: float = 0.0, by_share: bool = True) -> "VocabularyBias":
        trie = TokenTrie(term_token_sequences(tokenizer, terms))
        texts = _PieceTexts(tokenizer, trie.starts.tolist()) if split_guard or rewrite_min_p else None
        scale = start_shares(tokenizer, terms, trie) if by_share else None
        return cls(trie, bonus, timestamp_begin, min_p, texts=texts, rewrite_min_p=rewrite_min_p, start_scale=scale)

    def apply(self, logits: torch.Tensor, rows: Sequence[Row]) -> None:
        if not self.trie.root.children or self.bonus == 0.0:
            return
        logprobs = torch.log_softmax(logits, dim=-1)
        chosen = logits.argmax(dim=-1).tolist() if self.texts is not None else []  # the decoder's own choice
        slots: list[int] = []
        tokens: list[int] = []
        values: list[float] = []
        for slot, row in enumerate(rows):
            boost: dict[int, float] = {}
            for node in self.trie.open_nodes(self._text_tail(row.tokens)):
                gain = self.bonus * (node.depth + 1)
                for token in node.children:
                    if boost.get(token, 0.0) < gain and not self._respells(logprobs, slot, token, chosen):
                        boost[token] = gain
            slots += [slot] * len(boost)
            tokens += list(boost)
            values += list(boost.values())
        # a term's first tokens, in every row, where the decoder already finds them plausible
        starts = self.trie.starts
        floor = math.log(self.min_p) if self.min_p > 0 else -math.inf
        plausible = logprobs[:, starts] >= floor
        if self.texts is not None:  # and where they do not split the word the decoder is writing
            for slot, token in enumerate(chosen):
                plausible[slot, self.texts.starts_splitting(token)] = False
        start_bonus = plausible.to(logits.dtype) * self.bonus
        if self.start_scale is not None:
            start_bonus = start_bonus * self.start_scale
        row, token = torch.tensor(slots, dtype=torch.long), torch.tensor(tokens, dtype=torch.long)
        gate = math.log(self.continuation_min_p) if self.continuation_min_p > 0 else -math.inf
        keep = logprobs[row, token] >= gate
        logits[:, starts] += start_bonus
        if bool(keep.any()):  # a term begun: its next tokens get their path score
            row, token, values = row[keep], token[keep], [v for v, k in zip(values, keep.tolist()) if k]
            at = torch.searchsorted(starts, token).clamp_max(len(starts) - 1)
            given = torch.where(starts[at] == token, start_bonus[row, at], 0.0)  # a start's bonus, replaced
            logits.index_put_((row, token), torch.tensor(values, dtype=logits.dtype) - given, accumulate=True)

    def _respells(self, logprobs: torch.Tensor, slot: int, token: int, chosen: list[int]) -> bool:
        """Whether ``token`` would respell, against :attr:`rewrite_min_p`, the word the decoder is writing."""
        if self.texts is None or self.rewrite_min_p <= 0 or token == chosen[slot]:
            return False
        own, piece = self.texts.text(chosen[slot]), self.texts.text(token)
        return (own[:1].isalnum() and piece[:1].isalnum()
                and logprobs[slot, token].item() < math.log(self.rewrite_min_p))

    def _text_tail(self, tokens: Sequence[int]) -> Sequence[int]:
        """The row's last tokens, back to its last timestamp (a term never spans one)."""
        tail = tokens[-self.trie.longest:] if self.trie.longest else []
        if self.timestamp_begin is not None:
            for k in range(len(tail) - 1, -1, -1):
                if tail[k] >= self.timestamp_begin:
                    return tail[k + 1:]
        return tail
