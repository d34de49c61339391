"""Which files of an archive to index: audio and video files under the given paths, by extension or glob."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from aero_agent.errors import AudioNotFoundError

# kept in step with aero_agent.audio.AUDIO_EXTENSIONS (a test checks); repeated so that planning a run,
# which must stay fast, imports no audio decoder
MEDIA_EXTENSIONS = frozenset({
    ".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3", ".m4a", ".mp4", ".aac", ".webm", ".opus",
    ".mka", ".mkv", ".mov", ".wma", ".aif", ".aiff", ".au", ".caf", ".3gp", ".amr",
})


@dataclass(frozen=True)
class SourceFile:
    """One file to index, with what identifies its version: size and modification time."""

    path: str
    size: int
    mtime: float


def _wanted(path: Path, globs: Sequence[str]) -> bool:
    if globs:
        return any(fnmatch.fnmatch(path.name, g) or fnmatch.fnmatch(str(path), g) for g in globs)
    return path.suffix.lower() in MEDIA_EXTENSIONS


def discover(paths: Iterable[str | os.PathLike[str]], globs: Sequence[str] = ()) -> list[SourceFile]:
    """Every media file under ``paths`` (files are taken as given, folders walked; hidden entries skipped),
    resolved, deduplicated and sorted. With ``globs`` (``*.wav``, ``**/talks/*.mp3``), files match those
    instead of the media extensions."""
    found: dict[str, SourceFile] = {}

    def add(path: Path) -> None:
        try:
            stat = path.stat()
        except OSError:
            return
        resolved = str(path.resolve())
        found.setdefault(resolved, SourceFile(resolved, stat.st_size, stat.st_mtime))

    for given in paths:
        root = Path(given).expanduser()
        if root.is_file():
            add(root)
            continue
        if not root.is_dir():
            raise AudioNotFoundError(str(root), "no such file or folder")
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in files:
                path = Path(folder) / name
                if not name.startswith(".") and _wanted(path, globs):
                    add(path)
    return [found[k] for k in sorted(found)]
