"""Ranked search over transcript passages: Okapi BM25, embedding cosine, and their fusion.

Every strategy fits one small protocol, :class:`Ranker`: it scores each indexed passage for a query, higher
is better. A search always answers: its best passages come back for any query, each labelled ``strong`` when
its score reaches the strategy's ``strong_at`` and ``weak`` otherwise, so an agent sees how far to trust them
(only an empty index or an empty range gives nothing). A :class:`Retrieval` builds the ranker a session (or
the library) searches with; the caller chooses it, the session does not.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Literal, Protocol, Sequence

import numpy as np

from aero_agent.embeddings import Embedder
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


class Timed(Protocol):
    """Anything with a time span and text: a :class:`Segment` or a passage."""

    start: float
    end: float
    text: str


class Ranker(Protocol):
    """Scores every indexed item for a query; higher is better."""

    def scores(self, query: str) -> Sequence[float]:
        ...


class BM25Index:
    """Okapi BM25 (k1=1.5, b=0.75) over timed items (segments or passages), with an inverted index."""

    def __init__(self, segments: Sequence[Timed], k1: float = 1.5, b: float = 0.75) -> None:
        self.segments = list(segments)
        self.k1, self.b = k1, b
        docs = [Counter(terms(s.text)) for s in self.segments]
        lengths = np.array([sum(d.values()) for d in docs], dtype=np.float64)
        avg = float(lengths.mean()) if len(lengths) else 0.0
        self._norm = k1 * (1 - b + b * lengths / avg) if avg else np.full(len(docs), k1)
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        rows: dict[str, list[int]] = defaultdict(list)
        freqs: dict[str, list[int]] = defaultdict(list)
        for i, doc in enumerate(docs):
            for t, f in doc.items():
                rows[t].append(i)
                freqs[t].append(f)
        n = len(docs)
        self._idf = {t: math.log(1.0 + (n - len(r) + 0.5) / (len(r) + 0.5)) for t, r in rows.items()}
        for t in rows:
            self._postings[t] = (np.array(rows[t]), np.array(freqs[t], dtype=np.float64))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every item for ``query``."""
        out = np.zeros(len(self.segments))
        for t in terms(query):
            if t in self._postings:
                rows, f = self._postings[t]
                out[rows] += self._idf[t] * f * (self.k1 + 1) / (f + self._norm[rows])
        return out

    def search(self, query: str, k: int = 5) -> list[SearchHit]:
        """The ``k`` best items, best first (``strong`` when they share a term with the query)."""
        return top_hits(self.segments, self.scores(query), k, LexicalRetrieval.strong_at)


class DenseRanker:
    """Cosine between the query's embedding and precomputed unit vectors (negative cosines count as 0)."""

    def __init__(self, vectors: np.ndarray, embedder: Embedder) -> None:
        self.vectors, self.embedder = vectors, embedder

    def scores(self, query: str) -> np.ndarray:
        if not len(self.vectors):
            return np.zeros(0)
        return np.maximum(self.vectors @ self.embedder.embed([query])[0], 0.0)


Fusion = Literal["rrf", "weighted"]


@dataclass(frozen=True)
class FusionOptions:
    """How lexical and dense scores are combined.

    ``rrf``: reciprocal rank fusion, the sum of ``1 / (rrf_k + rank)`` over the rankers that match an item.
    ``weighted``: ``lexical_weight * bm25 / max(bm25) + (1 - lexical_weight) * cosine``.
    """

    method: Fusion = "weighted"
    lexical_weight: float = 0.1  # chosen by benchmarks/retrieval.py (see BENCHMARKS.md)
    rrf_k: int = 60


class HybridRanker:
    """Fuses a lexical and a dense ranker (see :class:`FusionOptions`)."""

    def __init__(self, lexical: Ranker, dense: Ranker, options: FusionOptions = FusionOptions()) -> None:
        self.lexical, self.dense, self.options = lexical, dense, options

    def scores(self, query: str) -> np.ndarray:
        lex = np.asarray(self.lexical.scores(query), dtype=np.float64)
        den = np.asarray(self.dense.scores(query), dtype=np.float64)
        if self.options.method == "rrf":
            return _rrf(lex, self.options.rrf_k) + _rrf(den, self.options.rrf_k)
        top = lex.max() if len(lex) else 0.0
        w = self.options.lexical_weight
        return (w * lex / top if top > 0 else 0.0) + (1 - w) * den


def _rrf(scores: np.ndarray, k: int) -> np.ndarray:
    ranks = np.empty(len(scores))
    ranks[np.argsort(-scores, kind="stable")] = np.arange(1, len(scores) + 1)
    return np.where(scores > 0, 1.0 / (k + ranks), 0.0)


def top_indices(items: Sequence[Timed], scores: Sequence[float], k: int, allowed: np.ndarray | None = None,
                distinct: bool = True, groups: Sequence[str] | None = None) -> list[tuple[int, float]]:
    """(index, score) of the ``k`` best ``allowed`` items, best first, whatever their scores (fewer only when
    fewer are allowed); with ``distinct``, an item that overlaps a better one in time (in the same recording:
    same ``groups`` entry) is skipped, so the hits point at ``k`` different places."""
    score = np.asarray(scores, dtype=np.float64)
    candidates = np.argsort(-score, kind="stable")
    if allowed is not None:
        candidates = candidates[np.asarray(allowed, dtype=bool)[candidates]]
    chosen: list[int] = []
    for i in candidates:
        if len(chosen) == k:
            break
        if distinct and any(items[i].start < items[j].end and items[j].start < items[i].end
                            and (groups is None or groups[i] == groups[j]) for j in chosen):
            continue
        chosen.append(int(i))
    return [(i, float(score[i])) for i in chosen]


def as_hit(item: Timed, score: float, rank: int, strong_at: float) -> SearchHit:
    """A passage as a hit, labelled ``strong`` when ``score`` reaches ``strong_at``, else ``weak``."""
    return SearchHit(start=item.start, end=item.end, text=item.text.strip(), score=round(score, 4), rank=rank,
                     speaker=getattr(item, "speaker", None), label="strong" if score >= strong_at else "weak")


def top_hits(items: Sequence[Timed], scores: Sequence[float], k: int, strong_at: float,
             allowed: np.ndarray | None = None) -> list[SearchHit]:
    """:func:`top_indices` as labelled search hits."""
    return [as_hit(items[i], s, r, strong_at) for r, (i, s) in enumerate(top_indices(items, scores, k, allowed), 1)]


def weak_note(hits: Sequence[SearchHit]) -> str | None:
    """What the skins tell an agent when even the best hit is weak (None when it is strong or there is none)."""
    if hits and hits[0].label == "weak":
        return ("no passage matches this query well: these are the closest there are (label 'weak'); "
                "judge them before relying on them")
    return None


# ----- strategies ---------------------------------------------------------------------------------------------
class Retrieval(Protocol):
    """Builds the ranker for a list of passages; ``embedder`` is None for strategies that need no vectors."""

    name: str
    strong_at: float
    """A hit scoring at least this is labelled ``strong``, below it ``weak``."""

    @property
    def embedder(self) -> Embedder | None:
        ...

    def ranker(self, passages: Sequence[Timed], vectors: np.ndarray | None) -> Ranker:
        ...


def _default_embedder() -> Embedder:
    from aero_agent.embeddings import default_embedder

    return default_embedder()


@dataclass(frozen=True)
class LexicalRetrieval:
    """BM25 alone: finds a passage only when the query reuses its words (strong: any shared term)."""

    name: str = "bm25"
    strong_at: float = 1e-9
    embedder: None = None

    def ranker(self, passages: Sequence[Timed], vectors: np.ndarray | None) -> Ranker:
        return BM25Index(passages)


@dataclass(frozen=True)
class SemanticRetrieval:
    """Embedding cosine alone (the embedded MiniLM unless an embedder is given as ``model``); a cosine under
    ``strong_at`` is a weak match."""

    model: Embedder | None = None
    strong_at: float = 0.25
    name: str = "embeddings"

    @property
    def embedder(self) -> Embedder:
        return self.model or _default_embedder()

    def dense(self, vectors: np.ndarray | None) -> DenseRanker:
        if vectors is None:
            raise ValueError("this retrieval strategy needs passage vectors")
        return DenseRanker(vectors, self.embedder)

    def ranker(self, passages: Sequence[Timed], vectors: np.ndarray | None) -> Ranker:
        return self.dense(vectors)


@dataclass(frozen=True)
class HybridRetrieval(SemanticRetrieval):
    """BM25 fused with embedding cosine (see :class:`FusionOptions`): the default."""

    fusion: FusionOptions = field(default_factory=FusionOptions)
    name: str = "hybrid"
    strong_at: float = 0.30
    """Chosen on the tuning half of benchmarks/library_recall.py: right first hits scored 0.32 and more, the one
    wrong 0.27 (unrelated queries lower)."""

    def ranker(self, passages: Sequence[Timed], vectors: np.ndarray | None) -> Ranker:
        return HybridRanker(BM25Index(passages), self.dense(vectors), self.fusion)


def evidence_segments(hits: Sequence[SearchHit]) -> list[Segment]:
    """Hits as segments, the form an :class:`~aero_agent.results.Answer` quotes its evidence in."""
    return [Segment(start=h.start, end=h.end, text=h.text, speaker=h.speaker) for h in hits]
