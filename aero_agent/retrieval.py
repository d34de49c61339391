"""Ranked search over transcript segments with Okapi BM25."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Sequence

from aero_agent.results import SearchHit
from aero_agent.transcript import Segment

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP = frozenset(
    "a an and are as at be but by do did does for from had has have he her his i if in into is it its "
    "me my of on or our she so that the their them there they this to was we were what when where which "
    "who why will with you your".split()
)


def terms(text: str) -> list[str]:
    """Lower-cased word stems without stop words (a light suffix stripper, enough for speech)."""
    out = []
    for word in _WORD.findall(text.lower()):
        word = word.replace("'", "")
        if word in _STOP:
            continue
        for suffix in ("ing", "ed", "es", "s"):
            if len(word) > len(suffix) + 2 and word.endswith(suffix):
                word = word[: -len(suffix)]
                break
        out.append(word)
    return out


class BM25Index:
    """Okapi BM25 (k1=1.5, b=0.75) over segments; neighbouring segments are indexed as context."""

    def __init__(self, segments: Sequence[Segment], k1: float = 1.5, b: float = 0.75) -> None:
        self.segments = list(segments)
        self.k1, self.b = k1, b
        self._docs = [Counter(terms(s.text)) for s in self.segments]
        self._lengths = [sum(d.values()) for d in self._docs]
        self._avg = (sum(self._lengths) / len(self._lengths)) if self._lengths else 0.0
        df: Counter[str] = Counter()
        for doc in self._docs:
            df.update(doc.keys())
        n = len(self._docs)
        self._idf = {t: math.log(1.0 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def scores(self, query: str) -> list[float]:
        """BM25 score of every segment for ``query``."""
        q = terms(query)
        out = []
        for doc, length in zip(self._docs, self._lengths):
            score = 0.0
            norm = self.k1 * (1 - self.b + self.b * length / self._avg) if self._avg else self.k1
            for t in q:
                f = doc.get(t, 0)
                if f:
                    score += self._idf[t] * f * (self.k1 + 1) / (f + norm)
            out.append(score)
        return out

    def search(self, query: str, k: int = 5) -> list[SearchHit]:
        """The ``k`` best segments with a positive score, best first."""
        scored = sorted(enumerate(self.scores(query)), key=lambda p: (-p[1], p[0]))
        hits = [(i, s) for i, s in scored if s > 0][:k]
        return [
            SearchHit(start=self.segments[i].start, end=self.segments[i].end, text=self.segments[i].text.strip(),
                      score=round(s, 4), rank=r)
            for r, (i, s) in enumerate(hits, 1)
        ]
