"""The one atomic write: a temporary file beside the target, flushed to disk, then renamed over it.

Readers (and a crash at any moment) see the old file or the whole new one, never a torn file. Everything the
package writes to disk goes through :func:`atomic_write` or :func:`atomic_write_with`.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, TypeVar

T = TypeVar("T")


def atomic_write_with(path: Path, write: Callable[[str], T]) -> T:
    """Let ``write`` fill a temporary file (given its name) beside ``path``, flush it to disk, rename it over
    ``path``; returns what ``write`` returned. The temporary file is removed when anything fails."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        result = write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        return result
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (whose folder must exist) so readers see the old file or the whole new one."""
    atomic_write_with(path, lambda tmp: Path(tmp).write_bytes(data))


def write_json(path: Path, value: Any) -> None:
    """``value`` as indented UTF-8 JSON, written atomically."""
    atomic_write(path, json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8"))
