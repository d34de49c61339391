"""Confine file access to allowed folders, with ``..``, ``~`` and symlinks resolved first."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from aero_agent.errors import AudioNotFoundError, NotAFileError, PathNotAllowedError


def allowed_roots(dirs: Iterable[str | os.PathLike] | None) -> list[Path]:
    """Resolved allowed folders; ``None`` means the current directory."""
    roots = [Path(d).expanduser().resolve() for d in (dirs if dirs is not None else [Path.cwd()])]
    return roots


def resolve_allowed(path: str | os.PathLike, roots: Iterable[Path]) -> Path:
    """The real path of ``path`` if it lies inside one of ``roots`` and is a file; raise otherwise.

    Relative paths are taken against the first root. The check runs on the fully resolved path, so
    ``..`` segments and symlinks pointing out of the allowed folders are refused.
    """
    roots = list(roots)
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip() or "\x00" in str(path):
        raise PathNotAllowedError(f"invalid path {path!r}")
    raw = Path(str(path).strip()).expanduser()
    candidate = raw if raw.is_absolute() else (roots[0] / raw if roots else raw)
    real = candidate.resolve()
    if not any(real == root or real.is_relative_to(root) for root in roots):
        shown = ", ".join(str(r) for r in roots) or "(none)"
        raise PathNotAllowedError(f"{path}: outside the allowed folders ({shown})")
    if not real.exists():
        raise AudioNotFoundError(str(path), "no such file")
    if not real.is_file():
        raise NotAFileError(str(path), "not a regular file (a directory or device)")
    return real
