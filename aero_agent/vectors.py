"""Passage vectors: computed once per passage, reused by content key, saved and restored as safetensors."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from aero_agent.embeddings import Embedder
from aero_agent.passages import Passage

VECTORS = "passages.safetensors"
log = logging.getLogger("aero_agent.vectors")


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

    # ----- files ------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Write ``folder/passages.safetensors`` atomically (keys and model id in its metadata)."""
        from safetensors.numpy import save_file

        with self._lock:
            keys = sorted(self._rows, key=self._rows.get)
            matrix = np.ascontiguousarray(self._matrix if keys else np.zeros((0, 1), dtype=np.float32))
            fd, tmp = tempfile.mkstemp(prefix=f".{VECTORS}.", suffix=".tmp", dir=folder)
            os.close(fd)
            try:
                save_file({"vectors": matrix}, tmp, metadata={"model_id": self.model_id, "keys": json.dumps(keys)})
                os.replace(tmp, folder / VECTORS)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            self.dirty = False

    @classmethod
    def load(cls, folder: Path) -> "PassageVectors | None":
        """What :meth:`save` wrote; None when there is no file or it is corrupt (logged: the vectors are then
        computed again and the file rewritten). Vectors of another model are replaced when first used."""
        path = folder / VECTORS
        if not path.exists():
            return None
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="numpy") as handle:
                meta = handle.metadata() or {}
                matrix = handle.get_tensor("vectors").astype(np.float32, copy=False)
            keys = json.loads(meta["keys"])
            if not isinstance(keys, list) or (keys and matrix.shape[0] != len(keys)) or not np.isfinite(matrix).all():
                raise ValueError("keys and vectors do not match")
        except Exception as exc:  # any damage to the file: rebuild rather than fail the search
            log.warning("%s is corrupt (%s: %s); its passage vectors will be computed again", path,
                        type(exc).__name__, exc)
            return None
        return cls(str(meta.get("model_id")), keys, matrix if keys else None)
