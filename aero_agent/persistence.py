"""On-disk form of a session: JSON for metadata, transcript and history, safetensors for tensors.

Every file is written atomically (temporary file, fsync, rename), and ``info.json`` is written last, so a
crash at any moment leaves either the old session or the new one, never a torn file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aero_agent.engines.base import EncodedAudio
from aero_agent.errors import CorruptSessionError
from aero_agent.hashing import sha256_file
from aero_agent.results import Turn
from aero_agent.transcript import Transcript

if TYPE_CHECKING:  # torch is imported where tensors are read or written: a server starts without it
    import torch

INFO, TRANSCRIPT, HISTORY, META = "info.json", "transcript.json", "history.json", "encoded.json"
TENSORS, VOLATILE = "tensors.safetensors", "turn_tensors.safetensors"


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (whose folder must exist) so readers see the old file or the whole new one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, value: Any) -> None:
    atomic_write(path, json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8"))


def _write_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> str | None:
    """Atomically write ``tensors`` as safetensors; return the file's SHA-256 (None and no file if empty)."""
    if not tensors:
        path.unlink(missing_ok=True)
        return None
    from safetensors.torch import save_file

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, tmp)
        checksum = sha256_file(Path(tmp))
        os.replace(tmp, path)
        return checksum
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
                               "volatile_tensor_prefixes": list(prefixes), "tensors_sha256": fixed_sum, "volatile_sha256": volatile_sum})


def save_transcript(folder: Path, transcript: Transcript | None) -> None:
    if transcript is not None:
        atomic_write(folder / TRANSCRIPT, transcript.model_dump_json().encode("utf-8"))


def load_encoded(folder: Path) -> EncodedAudio | None:
    """Read back what :func:`save_encoded` wrote; ``None`` when nothing was saved."""
    if not (folder / META).exists():
        return None
    head = json.loads((folder / META).read_text("utf-8"))
    from safetensors.torch import load_file

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
                        transcript=load_encoded_transcript(folder), tensors=tensors, meta=head.get("meta") or {},
                        volatile_tensor_prefixes=tuple(head.get("volatile_tensor_prefixes") or ()))


def load_encoded_transcript(folder: Path) -> Transcript | None:
    path = folder / TRANSCRIPT
    return Transcript.model_validate_json(path.read_text("utf-8")) if path.exists() else None


def save_history(folder: Path, history: list[Turn]) -> None:
    write_json(folder / HISTORY, [t.model_dump() for t in history])


def load_history(folder: Path) -> list[Turn]:
    path = folder / HISTORY
    return [Turn.model_validate(t) for t in json.loads(path.read_text("utf-8"))] if path.exists() else []
