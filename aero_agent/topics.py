"""Topic tags and a gist for a recording, from its passage vectors (KeyBERT-style keyphrases with MMR)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from pydantic import BaseModel

from aero_agent.embeddings import Embedder
from aero_agent.passages import Passage

_WORD = re.compile(r"[a-z][a-z']*")
_FILLER = frozenset(
    "a about all also am an and any are as at be been being but by can could did do does don't for from get "
    "going got had has have he her here him his how i i'm if in into is it it's its just know like me more "
    "most much my no not now of oh ok okay on one or other our out really said say see she so some such than "
    "that that's the their them then there there's these they thing this those through to too um uh up us "
    "very was we we're well were what when where which while who why will with would yeah yes you your "
    "thou thy thee thine".split()
)


@dataclass(frozen=True)
class TagOptions:
    """``count`` tags from the ``candidates`` most frequent 1-3 word phrases; ``diversity`` 0 ranks by relevance
    alone, 1 by novelty alone (maximal marginal relevance)."""

    count: int = 5
    candidates: int = 150
    max_words: int = 3
    diversity: float = 0.5
    gist_chars: int = 160


class Topics(BaseModel):
    """A recording's tags and gist."""

    tags: list[str]
    gist: str | None


def candidate_phrases(texts: Sequence[str], options: TagOptions = TagOptions()) -> list[str]:
    """The most frequent phrases of 1 to ``max_words`` content words that never cross a filler word."""
    counts: Counter[str] = Counter()
    for text in texts:
        for run in re.split(r"[.,;:!?]", text.lower()):
            words = _WORD.findall(run)
            for n in range(1, options.max_words + 1):
                for i in range(len(words) - n + 1):
                    gram = words[i:i + n]
                    if any(w in _FILLER or len(w) < 3 for w in gram):
                        continue
                    counts[" ".join(gram)] += 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1] * len(kv[0].split()) ** 0.5, kv[0]))
    return [phrase for phrase, _ in ranked[:options.candidates]]


def mmr(query: np.ndarray, vectors: np.ndarray, count: int, diversity: float) -> list[int]:
    """Indices of ``count`` rows chosen by maximal marginal relevance to ``query`` (unit vectors)."""
    if not len(vectors):
        return []
    relevance = vectors @ query
    chosen = [int(np.argmax(relevance))]
    while len(chosen) < min(count, len(vectors)):
        redundancy = (vectors @ vectors[chosen].T).max(axis=1)
        gain = (1 - diversity) * relevance - diversity * redundancy
        gain[chosen] = -np.inf
        chosen.append(int(np.argmax(gain)))
    return chosen


def topics(passages: Sequence[Passage], vectors: np.ndarray, embedder: Embedder,
           options: TagOptions = TagOptions()) -> Topics:
    """Tags (phrases closest to the mean passage vector, diversified) and the most central passage as gist."""
    if not passages or not len(vectors):
        return Topics(tags=[], gist=None)
    centre = vectors.mean(axis=0)
    centre /= np.linalg.norm(centre) or 1.0
    central = passages[int(np.argmax(vectors @ centre))].text
    gist = central if len(central) <= options.gist_chars else central[:options.gist_chars].rsplit(" ", 1)[0] + "..."
    singles = [p.text for p in passages if p.first == p.last] or [p.text for p in passages]
    phrases = candidate_phrases(singles, options)
    if not phrases:
        return Topics(tags=[], gist=gist)
    picked = mmr(centre, embedder.embed(phrases), 3 * options.count, options.diversity)
    tags: list[str] = []
    for phrase in (phrases[i] for i in picked):  # no tag that repeats a word of a better one
        if not any(set(phrase.split()) & set(t.split()) for t in tags):
            tags.append(phrase)
    return Topics(tags=tags[:options.count], gist=gist)
