"""A session's search index: passages of its transcript, their vectors, and the ranker built over them."""

from __future__ import annotations

import logging
import threading
from typing import Sequence

import numpy as np

from aero_agent.passages import Passage, PassageOptions, build_passages
from aero_agent.results import SearchHit
from aero_agent.retrieval import Ranker, Retrieval, top_hits
from aero_agent.sound_events import overlapping
from aero_agent.topics import TagOptions, Topics, topics
from aero_agent.transcript import Segment
from aero_agent.vectors import PassageVectors

log = logging.getLogger("aero_agent.index")


def _fingerprint(segments: Sequence[Segment]) -> int:
    return hash(tuple((s.start, s.end, s.speaker, s.text) for s in segments))


class TranscriptIndex:
    """Builds passages once per version of the transcript, embeds each passage once, and searches them.

    The retrieval strategy is given, not chosen here; vectors restored from disk are reused by content key,
    so a restored session's follow-up search costs one query embedding.
    """

    def __init__(self, retrieval: Retrieval, vectors: PassageVectors | None = None,
                 options: PassageOptions = PassageOptions()) -> None:
        self.retrieval = retrieval
        self.options = options
        self._vectors = vectors
        self._built: tuple[int, list[Passage], Ranker] | None = None
        self._lock = threading.RLock()

    @property
    def vectors(self) -> PassageVectors | None:
        """The passage vectors computed or restored so far (None for a strategy without vectors)."""
        return self._vectors

    def _matrix(self, passages: Sequence[Passage]) -> np.ndarray | None:
        embedder = self.retrieval.embedder
        if embedder is None:
            return None
        if self._vectors is None or self._vectors.model_id != embedder.model_id:
            self._vectors = PassageVectors(embedder.model_id)
        return self._vectors.matrix_for(passages, embedder)

    def passages(self, segments: Sequence[Segment]) -> tuple[list[Passage], Ranker]:
        """The passages of ``segments`` and a ranker over them, rebuilt only when the segments changed."""
        with self._lock:
            stamp = _fingerprint(segments)
            if self._built is None or self._built[0] != stamp:
                passages = build_passages(segments, self.options)
                ranker = self.retrieval.ranker(passages, self._matrix(passages))
                if self._vectors is not None:
                    self._vectors.keep_only(passages)
                self._built = (stamp, passages, ranker)
            return self._built[1], self._built[2]

    def built(self, segments: Sequence[Segment]) -> tuple[list[Passage], np.ndarray | None]:
        """The passages of ``segments`` and their vectors (None for a strategy without vectors), as built here."""
        with self._lock:
            passages, _ = self.passages(segments)
            return passages, self._matrix(passages)

    def prepare_settled(self, segments: Sequence[Segment]) -> None:
        """Embed the passages of a transcript still growing, except those touching its last segment (they may
        still change), so the work done at the end is small."""
        if self.retrieval.embedder is None or len(segments) < 2:
            return
        with self._lock:
            settled = [p for p in build_passages(segments, self.options) if p.last < len(segments) - 1]
            self._matrix(settled)

    def search(self, segments: Sequence[Segment], query: str, k: int, *, speaker: str | None = None,
               start_s: float | None = None, end_s: float | None = None,
               within: Sequence[tuple[float, float]] | None = None) -> list[SearchHit]:
        """The ``k`` best distinct passages, optionally only of ``speaker``, overlapping the time range and
        overlapping one of the spans ``within`` (seconds: sound events of a kind)."""
        passages, ranker = self.passages(segments)
        if not passages:
            return []
        allowed = np.ones(len(passages), dtype=bool)
        if speaker is not None:
            allowed &= np.array([p.speaker == speaker for p in passages])
        if start_s is not None or end_s is not None:
            lo = -np.inf if start_s is None else start_s
            hi = np.inf if end_s is None else end_s
            allowed &= np.array([p.end > lo and p.start < hi for p in passages])
        if within is not None:
            allowed &= overlapping([(p.start, p.end) for p in passages], within)
        return top_hits(passages, ranker.scores(query), k, self.retrieval.strong_at, allowed)

    def topics(self, segments: Sequence[Segment], options: TagOptions = TagOptions()) -> Topics | None:
        """Tags and gist of the recording (None for a strategy without vectors)."""
        embedder = self.retrieval.embedder
        if embedder is None:
            return None
        passages, _ = self.passages(segments)
        return topics(passages, self._matrix(passages), embedder, options)
