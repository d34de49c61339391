"""Passage vectors: computed once per passage and reused by content key (saved by :mod:`aero_agent.persistence`)."""

from __future__ import annotations

import threading
from typing import Sequence

import numpy as np

from aero_agent.embeddings import Embedder
from aero_agent.passages import Passage



class PassageVectors:
    """Unit vectors of passages by :attr:`Passage.key`, all from one embedder (``model_id``).

    ``dirty`` is True after new vectors were computed and not yet saved.
    """

    def __init__(self, model_id: str, keys: Sequence[str] = (), matrix: np.ndarray | None = None) -> None:
        self.model_id = model_id
        self._rows = {k: i for i, k in enumerate(keys)}
        self._matrix = matrix if matrix is not None else np.zeros((0, 0), dtype=np.float32)
        self.dirty = False
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._rows)

    def matrix_for(self, passages: Sequence[Passage], embedder: Embedder) -> np.ndarray:
        """A ``(len(passages), dim)`` matrix; only passages never seen before go through ``embedder``."""
        if embedder.model_id != self.model_id:
            raise ValueError(f"vectors of {self.model_id} cannot be mixed with {embedder.model_id}")
        with self._lock:
            missing = list(dict.fromkeys(p.key for p in passages if p.key not in self._rows))
            if missing:
                texts = {p.key: p.text for p in passages}
                fresh = embedder.embed([texts[k] for k in missing])
                base = self._matrix if self._matrix.size else np.zeros((0, fresh.shape[1]), dtype=np.float32)
                self._matrix = np.concatenate([base, fresh]).astype(np.float32, copy=False)
                for k in missing:
                    self._rows[k] = len(self._rows)
                self.dirty = True
            if not passages:
                return np.zeros((0, embedder.dim), dtype=np.float32)
            return self._matrix[[self._rows[p.key] for p in passages]]

    def keep_only(self, passages: Sequence[Passage]) -> None:
        """Forget vectors of passages that no longer exist (the transcript changed), so files do not grow."""
        with self._lock:
            wanted = [k for k in dict.fromkeys(p.key for p in passages) if k in self._rows]
            if len(wanted) == len(self._rows):
                return
            self._matrix = self._matrix[[self._rows[k] for k in wanted]] if wanted else self._matrix[:0]
            self._rows = {k: i for i, k in enumerate(wanted)}
            self.dirty = True

    def snapshot(self) -> tuple[str, list[str], np.ndarray]:
        """The model id, the passage keys in row order and the matrix (what :mod:`aero_agent.persistence` writes)."""
        with self._lock:
            keys = sorted(self._rows, key=self._rows.get)
            return self.model_id, keys, self._matrix
