"""What an archive run has done: one row per source file (its path, size, modification time and content hash,
the session it became, or why it failed), in a table of the store's catalog database.

The table is what makes a run resumable and a rerun cheap: a file whose path, size and modification time
(or content hash) match a done row is skipped without decoding anything. A row moves to ``publishing`` with its
session id just before the session folder is renamed into the store, so a run killed between the two is
settled on the next start by looking for that one folder: published means done, missing means redo.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from aero_agent.persistence.catalog import connect
from aero_agent.persistence.layout import CATALOG

Status = Literal["publishing", "done", "failed"]
_SCHEMA = """
CREATE TABLE IF NOT EXISTS archive_files (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    content_hash TEXT,
    model TEXT NOT NULL,
    speakers INTEGER NOT NULL,
    status TEXT NOT NULL,
    session_id TEXT,
    duration_s REAL,
    error TEXT,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS archive_files_by_hash ON archive_files (content_hash);
"""


@dataclass(frozen=True)
class Profile:
    """What a session was made with: a done row counts only for the same engine and model, and for speakers
    only when it has them."""

    engine: str = "whisper"
    model: str | None = None
    speakers: bool = False

    @property
    def key(self) -> str:
        return f"{self.engine}:{self.model or 'embedded'}"


@dataclass(frozen=True)
class Entry:
    """One row of the manifest."""

    path: str
    size: int
    mtime: float
    content_hash: str | None
    model: str
    speakers: bool
    status: Status
    session_id: str | None
    duration_s: float | None
    error: str | None

    def serves(self, profile: Profile) -> bool:
        """True when this done row stands for what ``profile`` asks."""
        return self.status == "done" and self.model == profile.key and (self.speakers or not profile.speakers)


class Manifest:
    """The ``archive_files`` table of ``store_root/catalog.sqlite``; every change is one committed statement."""

    def __init__(self, store_root: Path) -> None:
        store_root.mkdir(parents=True, exist_ok=True)
        self._conn = connect(store_root / CATALOG)
        self._conn.executescript(_SCHEMA)

    def entries(self) -> dict[str, Entry]:
        rows = self._conn.execute("SELECT path, size, mtime, content_hash, model, speakers, status, session_id, "
                                  "duration_s, error FROM archive_files").fetchall()
        return {r[0]: Entry(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7], r[8], r[9]) for r in rows}

    def record(self, path: str, size: int, mtime: float, content_hash: str | None, profile: Profile,
               status: Status, session_id: str | None = None, duration_s: float | None = None,
               error: str | None = None) -> None:
        self._conn.execute("INSERT OR REPLACE INTO archive_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (path, size, mtime, content_hash, profile.key, int(profile.speakers), status,
                            session_id, duration_s, error, time.time()))

    def mark_done(self, path: str) -> None:
        self._conn.execute("UPDATE archive_files SET status = 'done', updated = ? WHERE path = ?", (time.time(), path))

    def forget(self, path: str) -> None:
        self._conn.execute("DELETE FROM archive_files WHERE path = ?", (path,))

    def close(self) -> None:
        self._conn.close()
