"""A spelling pass after decoding: words the decoder doubted that sound like a listed term become that term.

A run of one to a few words whose mean probability is below ``max_probability`` is compared with every term of
the vocabulary, letters only, both as written and as a rough phonetic key (vowels after the first letter dropped,
consonants that sound alike merged); the best term at least ``min_similarity`` alike replaces the run, keeping
its times and its punctuation. Engine-agnostic: it reads only the transcript's words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Sequence

from aero_agent.transcript import Segment, Transcript, Word

_SOUNDS = [(re.compile(p), r) for p, r in (
    (r"ph", "f"), (r"gh", "g"), (r"ck", "k"), (r"[cq]", "k"), (r"x", "ks"), (r"z", "s"), (r"v", "f"),
    (r"dt", "t"), (r"d", "t"), (r"b", "p"), (r"(.)\1+", r"\1"))]


def letters(text: str) -> str:
    """Lower-case letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", text.lower())


def sound_key(text: str) -> str:
    """A rough phonetic key: sound-alike consonants merged, vowels (and y, h, w) after the first letter dropped."""
    key = letters(text)
    for pattern, sub in _SOUNDS:
        key = pattern.sub(sub, key)
    return key[:1] + re.sub(r"[aeiouyhw]", "", key[1:])


def similarity(heard: str, term: str) -> float:
    """How alike two spellings are, 0 to 1: the better of letters and sound keys (difflib's ratio)."""
    a, b = letters(heard), letters(term)
    if not a or not b:
        return 0.0
    return max(SequenceMatcher(None, a, b).ratio(), SequenceMatcher(None, sound_key(a), sound_key(b)).ratio())


@dataclass(frozen=True)
class SpellingPass:
    """Replaces doubted words that sound like a listed term (see the module's docstring)."""

    terms: tuple[str, ...]
    max_probability: float = 0.5
    min_similarity: float = 0.75
    max_extra_words: int = 1
    """A term of n words may replace up to n + this many decoded words ("for a still liner")."""

    def apply(self, transcript: Transcript) -> Transcript:
        """A copy of ``transcript`` with doubted runs respelled (segments without words are kept as they are)."""
        if not self.terms:
            return transcript
        segments = [self._segment(s) if s.words else s for s in transcript.segments]
        return transcript.model_copy(update={"segments": segments})

    def _segment(self, segment: Segment) -> Segment:
        words = list(segment.words or [])
        out: list[Word] = []
        k = 0
        while k < len(words):
            found = self._best(words, k)
            if found is None:
                out.append(words[k])
                k += 1
                continue
            term, length = found
            run = words[k: k + length]
            lead = run[0].word[: len(run[0].word) - len(run[0].word.lstrip())]
            tail = re.search(r"[^\w]*$", run[-1].word.strip()).group(0)  # type: ignore[union-attr]
            out.append(Word(start=run[0].start, end=run[-1].end, word=f"{lead}{term}{tail}",
                            probability=min(w.probability for w in run)))
            k += length
        if out == words:
            return segment
        return segment.model_copy(update={"words": out, "text": "".join(w.word for w in out).strip()})

    def _best(self, words: Sequence[Word], k: int) -> tuple[str, int] | None:
        """The term the run starting at word ``k`` is most alike (and its length in words), if any."""
        best: tuple[float, str, int] | None = None
        for term in self.terms:
            n = len(term.split())
            for length in range(max(1, n - 1), n + self.max_extra_words + 1):
                run = words[k: k + length]
                if len(run) < length:
                    break
                if sum(w.probability for w in run) / length >= self.max_probability:
                    continue
                heard = "".join(w.word for w in run)
                if letters(heard) == letters(term):
                    continue  # already the term (perhaps in another case): nothing to do
                score = similarity(heard, term)
                if score >= self.min_similarity and (best is None or score > best[0]):
                    best = (score, term, length)
        return None if best is None else (best[1], best[2])
