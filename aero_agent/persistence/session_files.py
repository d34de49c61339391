"""A session's files: JSON for its info, transcript and history, safetensors for engine tensors and passage vectors.

File names come from :mod:`aero_agent.persistence.layout`; every file is written through the one atomic write
(:mod:`aero_agent.persistence.atomic`), and ``info.json`` is written last by the store, so a crash at any moment
leaves either the old session or the new one, never a torn file.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aero_agent.engines.base import EncodedAudio
from aero_agent.errors import CorruptSessionError
from aero_agent.hashing import sha256_file
from aero_agent.locks import FileLock
from aero_agent.persistence.atomic import atomic_write, atomic_write_with, write_json
from aero_agent.persistence.catalog import Catalog
from aero_agent.persistence.layout import HISTORY, INFO, META, OWNER_LOCK, TENSORS, TRANSCRIPT, VECTORS, VOLATILE
from aero_agent.results import SessionInfo, Turn
from aero_agent.transcript import Transcript
from aero_agent.vectors import PassageVectors

if TYPE_CHECKING:  # torch is imported where tensors are read or written: a server starts without it
    import torch

log = logging.getLogger("aero_agent.persistence")
__all__ = ["INFO", "TRANSCRIPT", "HISTORY", "META", "TENSORS", "VOLATILE", "VECTORS", "atomic_write", "write_json",
           "save_encoded", "load_encoded", "save_transcript", "load_transcript", "save_history", "load_history",
           "read_info", "load_info", "save_vectors", "load_vectors", "Changes", "SessionFiles"]


def _write_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> str | None:
    """Atomically write ``tensors`` as safetensors; return the file's SHA-256 (None and no file if empty)."""
    from safetensors.torch import save_file

    if not tensors:
        path.unlink(missing_ok=True)
        return None
    fixed = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}

    def write(tmp: str) -> str:
        save_file(fixed, tmp)
        return sha256_file(Path(tmp))

    return atomic_write_with(path, write)


def save_encoded(folder: Path, encoded: EncodedAudio, volatile_only: bool = False) -> None:
    """Write the engine state: tensors (safetensors, checksums in the metadata), then the metadata.

    Tensors whose names start with one of ``encoded.volatile_tensor_prefixes`` (a conversation cache that
    changes every turn) go to their own file, so a turn rewrites only them (``volatile_only``).
    """
    prefixes = encoded.volatile_tensor_prefixes
    volatile = {k: v for k, v in encoded.tensors.items() if prefixes and k.startswith(prefixes)}
    fixed = {k: v for k, v in encoded.tensors.items() if k not in volatile}
    previous = json.loads((folder / META).read_text("utf-8")) if volatile_only and (folder / META).exists() else None
    if previous is None:
        fixed_sum = _write_tensors(folder / TENSORS, fixed)
    else:
        fixed_sum = previous.get("tensors_sha256")
    volatile_sum = _write_tensors(folder / VOLATILE, volatile)
    write_json(folder / META, {"engine": encoded.engine, "model_id": encoded.model_id,
                               "duration_s": encoded.duration_s, "meta": encoded.meta,
                               "volatile_tensor_prefixes": list(prefixes), "tensors_sha256": fixed_sum,
                               "volatile_sha256": volatile_sum})


def has_encoded(folder: Path) -> bool:
    """True when the engine state was written (the metadata is written after the tensors)."""
    return (folder / META).exists()


def load_encoded(folder: Path) -> EncodedAudio | None:
    """Read back what :func:`save_encoded` wrote; ``None`` when nothing was saved."""
    from safetensors.torch import load_file

    if not (folder / META).exists():
        return None
    head = json.loads((folder / META).read_text("utf-8"))
    tensors = {}
    if head.get("tensors_sha256"):
        path = folder / TENSORS
        if not path.exists() or sha256_file(path) != head["tensors_sha256"]:
            raise CorruptSessionError(f"{path}: tensors are missing or do not match their checksum")
        tensors = load_file(str(path))
    volatile = folder / VOLATILE
    # a conversation cache that does not match its checksum is dropped: the engine rebuilds it from history
    if head.get("volatile_sha256") and volatile.exists() and sha256_file(volatile) == head["volatile_sha256"]:
        tensors.update(load_file(str(volatile)))
    return EncodedAudio(engine=head["engine"], model_id=head["model_id"], duration_s=head["duration_s"],
                        transcript=load_transcript(folder), tensors=tensors, meta=head.get("meta") or {},
                        volatile_tensor_prefixes=tuple(head.get("volatile_tensor_prefixes") or ()))


def save_transcript(folder: Path, transcript: Transcript | None) -> None:
    if transcript is not None:
        atomic_write(folder / TRANSCRIPT, transcript.model_dump_json().encode("utf-8"))


def load_transcript(folder: Path) -> Transcript | None:
    path = folder / TRANSCRIPT
    return Transcript.model_validate_json(path.read_text("utf-8")) if path.exists() else None


def save_history(folder: Path, history: list[Turn]) -> None:
    write_json(folder / HISTORY, [t.model_dump() for t in history])


def load_history(folder: Path) -> list[Turn]:
    path = folder / HISTORY
    return [Turn.model_validate(t) for t in json.loads(path.read_text("utf-8"))] if path.exists() else []


def read_info(folder: Path) -> dict[str, Any] | None:
    """``info.json`` as a dict; None when it is missing or unreadable."""
    try:
        return json.loads((folder / INFO).read_text("utf-8"))
    except (OSError, ValueError):
        return None


def load_info(folder: Path) -> SessionInfo | None:
    """``info.json`` as a :class:`SessionInfo`; None when there is none."""
    path = folder / INFO
    return SessionInfo.model_validate_json(path.read_text("utf-8")) if path.exists() else None


def save_vectors(folder: Path, vectors: PassageVectors) -> None:
    """Write ``passages.safetensors`` (keys and model id in its metadata) and mark the vectors saved."""
    from safetensors.numpy import save_file

    model_id, keys, matrix = vectors.snapshot()
    matrix = np.ascontiguousarray(matrix if keys else np.zeros((0, 1), dtype=np.float32))
    atomic_write_with(folder / VECTORS, lambda tmp: save_file(
        {"vectors": matrix}, tmp, metadata={"model_id": model_id, "keys": json.dumps(keys)}))
    vectors.dirty = False


def load_vectors(folder: Path) -> PassageVectors | None:
    """What :func:`save_vectors` wrote; None when there is no file or it is corrupt (logged: the vectors are then
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
    return PassageVectors(str(meta.get("model_id")), keys, matrix if keys else None)


@dataclass(frozen=True)
class Changes:
    """What changed in a session, to be written once: ``info`` always (last), the rest when given.

    ``encoded`` is the whole engine state (written when the session becomes ready, or saved whole on request);
    ``volatile`` only its tensors that change every turn (a conversation cache)."""

    info: dict[str, Any]
    history: list[Turn] | None = None
    transcript: Transcript | None = None
    encoded: EncodedAudio | None = None
    volatile: EncodedAudio | None = None
    vectors: PassageVectors | None = None


class SessionFiles:
    """One session's folder in a store: writes what changed, ``info.json`` last (with its catalog row), and holds
    the owner lock while the session is encoding or live (other processes then leave it alone)."""

    def __init__(self, folder: Path, catalog: Catalog) -> None:
        self.folder = folder
        self.catalog = catalog
        self._owner: FileLock | None = None
        self._lock = threading.Lock()

    def create(self, info: dict[str, Any]) -> None:
        """Make the folder, take the owner lock and write the first ``info.json``."""
        self.folder.mkdir(parents=True)
        lock = FileLock(self.folder / OWNER_LOCK)
        lock.acquire()
        self._owner = lock
        self.catalog.write_info(self.folder, info)

    def release(self) -> None:
        """Let other processes read the session as any other (its encoding or stream ended)."""
        with self._lock:
            lock, self._owner = self._owner, None
        if lock is not None:
            lock.release()

    def clear(self) -> None:
        """Remove every file of the session but its ``info.json``."""
        with self._lock:
            for path in self.folder.glob("*"):
                if path.is_file() and path.name != INFO:
                    path.unlink(missing_ok=True)

    def write(self, changes: Changes) -> None:
        """Write ``changes``; nothing when the session was closed (its folder deleted) meanwhile."""
        folder = self.folder
        with self._lock:
            if not folder.exists():
                return
            try:
                if changes.encoded is not None:
                    save_encoded(folder, changes.encoded)
                elif changes.volatile is not None and changes.volatile.volatile_tensor_prefixes and has_encoded(folder):
                    save_encoded(folder, changes.volatile, volatile_only=True)
                save_transcript(folder, changes.transcript)
                if changes.history is not None:
                    save_history(folder, changes.history)
                if changes.vectors is not None and changes.vectors.dirty:
                    save_vectors(folder, changes.vectors)
                self.catalog.write_info(folder, changes.info)
            except FileNotFoundError:
                if folder.exists():
                    raise
                return  # closed meanwhile: its folder is gone, and must stay gone
        if changes.info.get("status") not in ("encoding", "live"):
            self.release()
