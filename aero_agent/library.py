"""The library: one search over every stored session, with all passage vectors in one matrix.

Each ready session contributes a block (its passages and their vectors): a session in memory hands over what its
own index built (:class:`~aero_agent.index.TranscriptIndex`); one on disk only is read from its files (transcript
and ``passages.safetensors``). Blocks are refreshed when a session's files change, added when a session appears
and dropped when it is closed. A session stored before embeddings existed, or whose vector file is corrupt, is
indexed on first use and its file written, so the next search reads it instead of computing again.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from aero_agent.persistence import session_files as disk
from aero_agent.passages import Passage, PassageOptions, build_passages
from aero_agent.results import SearchHit
from aero_agent.retrieval import Ranker, Retrieval, as_hit, top_indices
from aero_agent.sound_events import overlapping
from aero_agent.topics import Topics, topics
from aero_agent.persistence.layout import VECTORS
from aero_agent.vectors import PassageVectors

log = logging.getLogger("aero_agent.library")
TopicsFn = Callable[[str, Topics], None]
Built = tuple[list[Passage], "np.ndarray | None"]
BuiltFn = Callable[[str], "Built | None"]
"""A session's passages and vectors as its index in memory built them; None for a session not in memory."""


@dataclass(frozen=True)
class _Block:
    session_id: str
    source: str
    stamp: tuple[int, int]
    passages: list[Passage]
    matrix: np.ndarray | None


def _stamp(folder: Path) -> tuple[int, int]:
    """Modification times of the transcript and the vector file: a block is stale when either changed."""
    def mtime(name: str) -> int:
        try:
            return (folder / name).stat().st_mtime_ns
        except OSError:
            return 0
    return mtime(disk.TRANSCRIPT), mtime(VECTORS)


class LibraryIndex:
    """Passages of many sessions under ``root`` and a ranker over all of them (rebuilt when a block changes)."""

    def __init__(self, root: Path, retrieval: Retrieval, options: PassageOptions = PassageOptions()) -> None:
        self.root, self.retrieval, self.options = root, retrieval, options
        self._blocks: dict[str, _Block] = {}
        self._joined: tuple[list[Passage], list[str], Ranker] | None = None
        self._lock = threading.RLock()

    def drop(self, session_id: str) -> None:
        """Forget a closed session."""
        with self._lock:
            if self._blocks.pop(session_id, None) is not None:
                self._joined = None

    def refresh(self, sessions: Sequence[tuple[str, str, bool]], on_topics: TopicsFn | None = None,
                built: BuiltFn | None = None) -> None:
        """Bring the blocks up to date with ``(session_id, source, has_tags)`` of every ready session: from
        ``built`` (what a loaded session's index holds) when it has it, else from the files; calls ``on_topics``
        for a session indexed here that has no tags yet."""
        with self._lock:
            wanted = {sid for sid, _, _ in sessions}
            for sid in [s for s in self._blocks if s not in wanted]:
                self.drop(sid)
            for sid, source, has_tags in sessions:
                folder = self.root / sid
                stamp = _stamp(folder)
                block = self._blocks.get(sid)
                if block is not None and block.stamp == stamp:
                    continue
                held = built(sid) if built is not None else None
                if held is not None:
                    loaded: _Block | None = _Block(sid, source, stamp, held[0], held[1])
                else:
                    loaded = self._load(sid, source, folder, None if has_tags else on_topics)
                if loaded is None:
                    self._blocks.pop(sid, None)
                else:
                    self._blocks[sid] = loaded
                self._joined = None

    def _load(self, sid: str, source: str, folder: Path, on_topics: TopicsFn | None) -> _Block | None:
        transcript = disk.load_transcript(folder)
        if transcript is None:
            return None
        passages = build_passages(transcript.segments, self.options)
        embedder = self.retrieval.embedder
        matrix = None
        if embedder is not None:
            vectors = disk.load_vectors(folder)
            if vectors is None or vectors.model_id != embedder.model_id:
                vectors = PassageVectors(embedder.model_id)
            matrix = vectors.matrix_for(passages, embedder)
            if vectors.dirty:
                log.info("session %s: passage vectors computed for the library and saved", sid)
                vectors.keep_only(passages)
                disk.save_vectors(folder, vectors)
            if on_topics is not None:
                on_topics(sid, topics(passages, matrix, embedder))
        return _Block(sid, source, _stamp(folder), passages, matrix)

    def _join(self) -> tuple[list[Passage], list[str], Ranker]:
        if self._joined is None:
            blocks = list(self._blocks.values())
            passages = [p for b in blocks for p in b.passages]
            owners = [b.session_id for b in blocks for _ in b.passages]
            matrix = None
            if self.retrieval.embedder is not None:
                dim = self.retrieval.embedder.dim
                parts = [b.matrix for b in blocks if b.matrix is not None and len(b.matrix)]
                matrix = np.concatenate(parts) if parts else np.zeros((0, dim), dtype=np.float32)
            self._joined = (passages, owners, self.retrieval.ranker(passages, matrix))
        return self._joined

    def search(self, query: str, k: int, session_ids: set[str] | None = None,
               speakers: dict[str, set[str]] | None = None,
               within: dict[str, list[tuple[float, float]]] | None = None) -> list[SearchHit]:
        """The ``k`` best passages over all blocks (or only ``session_ids``), each with its session and source;
        with ``speakers`` (session id -> speaker labels) only those speakers' passages; with ``within`` (session
        id -> spans in seconds: its sound events of a kind) only passages overlapping their session's spans."""
        with self._lock:
            passages, owners, ranker = self._join()
            if not passages:
                return []
            allowed = None if session_ids is None else np.array([o in session_ids for o in owners])
            if speakers is not None:
                allowed = np.array([p.speaker in speakers.get(o, ()) for p, o in zip(passages, owners)])
            if within is not None:
                inside = np.array([bool(overlapping([(p.start, p.end)], within.get(o, ()))[0])
                                   for p, o in zip(passages, owners)], dtype=bool)
                allowed = inside if allowed is None else allowed & inside
            found = top_indices(passages, ranker.scores(query), k, allowed, groups=owners)
            return [as_hit(passages[i], score, rank, self.retrieval.strong_at).model_copy(
                        update={"session_id": owners[i], "source": self._blocks[owners[i]].source})
                    for rank, (i, score) in enumerate(found, 1)]

    @property
    def sessions(self) -> list[str]:
        with self._lock:
            return list(self._blocks)

