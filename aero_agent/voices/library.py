"""The voice library on disk, in the store's folder: ``voices/library.json`` (names, ids, provenance, and
which session speakers are which voice) and one ``voices/<id>.<n>.npy`` of embeddings per voice.

Embeddings are biometric data: they are kept only here (files mode 600), never logged or returned. Every
change writes the new embedding files first and ``library.json`` last, each atomically, under a file lock,
so a crash at any moment leaves the previous library (unreferenced embedding files are removed later).
"""

from __future__ import annotations

import io
import json
import os
import secrets
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from aero_agent.locks import FileLock
from aero_agent.results import utc_now

FOLDER = "voices"
LIBRARY = "library.json"
LOCK = ".lock"
MAX_EMBEDDINGS = 32
"""Embeddings kept per voice (the most recent sources' first)."""


@dataclass
class Label:
    """One session speaker's voice: ``by`` is ``named`` (a person said so) or ``identified`` (matched)."""

    voice: str
    by: str
    confidence: float
    talk_time_s: float
    at: str


@dataclass
class Voice:
    """A named voice: stable ``id``, ``name``, where it was learned (``sources``), and its embeddings file."""

    id: str
    name: str
    created: str
    updated: str
    sources: list[dict[str, Any]] = field(default_factory=list)
    prints: str = ""


@dataclass
class LibraryData:
    voices: dict[str, Voice] = field(default_factory=dict)
    labels: dict[str, dict[str, Label]] = field(default_factory=dict)
    """session id -> speaker label -> its voice."""

    def by_name(self, name: str) -> Voice | None:
        folded = name.casefold()
        return next((v for v in self.voices.values() if v.name.casefold() == folded), None)


_thread_locks: dict[Path, threading.RLock] = {}
_parsed: dict[Path, tuple[tuple[int, int, int], "LibraryData"]] = {}
"""library.json of each folder as last parsed, with the (mtime, inode, size) it was parsed at."""
_guard = threading.Lock()


class VoiceLibrary:
    """Read and change the library of a store folder ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.folder = Path(root) / FOLDER
        with _guard:
            self._thread_lock = _thread_locks.setdefault(self.folder.resolve(), threading.RLock())

    # ----- reading ------------------------------------------------------------------------------
    def read(self) -> LibraryData:
        """The library as stored (an empty one when none was written yet). Parsed once per version of the
        file in a process (every :class:`VoiceLibrary` of the folder shares it); callers must not change it."""
        path = self.folder / LIBRARY
        try:
            info = path.stat()
        except FileNotFoundError:
            return LibraryData()
        stamp = (info.st_mtime_ns, info.st_ino, info.st_size)  # each write replaces the file: a new inode
        with _guard:
            cached = _parsed.get(self.folder)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        data = self._parse(path)
        with _guard:
            _parsed[self.folder] = (stamp, data)
        return data

    @staticmethod
    def _parse(path: Path) -> LibraryData:
        raw = json.loads(path.read_text("utf-8"))
        return LibraryData(
            voices={v["id"]: Voice(**v) for v in raw.get("voices", [])},
            labels={sid: {spk: Label(**lab) for spk, lab in rows.items()} for sid, rows in raw.get("labels", {}).items()})

    def embeddings(self, voice: Voice) -> np.ndarray:
        """The voice's embeddings ``(k, 256)``."""
        return np.load(self.folder / voice.prints, allow_pickle=False)

    # ----- writing ------------------------------------------------------------------------------
    @contextmanager
    def change(self) -> Iterator[tuple[LibraryData, "Staged"]]:
        """A read-modify-write under the library's locks: yields a fresh copy of the data and a place to stage
        new embedding files; on a clean exit the files, then ``library.json``, are written atomically."""
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        with self._thread_lock, FileLock(self.folder / LOCK):
            path = self.folder / LIBRARY
            data = self._parse(path) if path.exists() else LibraryData()  # a private copy to change
            staged = Staged(self.folder)
            yield data, staged
            for name, array in staged.files.items():
                buffer = io.BytesIO()
                np.save(buffer, array.astype(np.float32), allow_pickle=False)
                write_private(self.folder / name, buffer.getvalue())
            write_private(self.folder / LIBRARY, _dumps(data))
            self._sweep(data)

    def _sweep(self, data: LibraryData) -> None:
        """Delete embedding files no voice refers to (a forgotten voice's, an older generation's)."""
        kept = {v.prints for v in data.voices.values()}
        for path in self.folder.glob("*.npy"):
            if path.name not in kept:
                path.unlink(missing_ok=True)


class Staged:
    """Embedding files to write with a change, each under a new name (``<voice id>.<token>.npy``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: dict[str, np.ndarray] = {}

    def put(self, voice: Voice, embeddings: np.ndarray) -> None:
        name = f"{voice.id}.{secrets.token_hex(4)}.npy"
        self.files[name] = embeddings[-MAX_EMBEDDINGS:]
        voice.prints = name


def new_voice(name: str) -> Voice:
    now = utc_now()
    return Voice(id="v_" + secrets.token_hex(6), name=name, created=now, updated=now)


def write_private(path: Path, data: bytes) -> None:
    from aero_agent.persistence.atomic import atomic_write  # the store's helper

    atomic_write(path, data)  # mkstemp files are created mode 600; chmod in case a umask or an old file says more
    os.chmod(path, 0o600)


def _dumps(data: LibraryData) -> bytes:
    from dataclasses import asdict

    raw = {"voices": [asdict(v) for v in data.voices.values()],
           "labels": {sid: {spk: asdict(lab) for spk, lab in rows.items()} for sid, rows in data.labels.items() if rows}}
    return json.dumps(raw, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
