"""The store's catalog: one SQLite table of every session's metadata, so listing, finding by source and the
library's candidate set read one indexed file instead of every session folder.

The session folders stay the truth: ``info.json`` is written first, then its row here, with that file's mtime.
The catalog is kept in step by the store on each write and reconciled when a store is opened (a directory
listing and one stat per session; only new or changed ``info.json`` files are read), so folders written by an
older version, by hand, or by a process killed between the two writes are picked up. SQLite runs in WAL mode with a busy timeout, so several processes may read and write one store at once;
each write is one short transaction. WAL needs a local file system (not NFS); see the README.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable

from aero_agent.persistence.atomic import write_json
from aero_agent.persistence.layout import CATALOG, INFO, is_session_id

BUSY_TIMEOUT_MS = 30_000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    engine TEXT NOT NULL,
    model_id TEXT NOT NULL,
    source_size INTEGER,
    source_mtime REAL,
    created TEXT NOT NULL,
    info TEXT NOT NULL,
    info_mtime_ns INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS sessions_by_source ON sessions (source);
CREATE INDEX IF NOT EXISTS sessions_by_created ON sessions (created);
"""


def connect(path: Path) -> sqlite3.Connection:
    """A connection in WAL mode that waits for other writers instead of failing at once."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across a process kill, fast commits
    return conn


class Catalog:
    """Rows of session metadata under ``root/catalog.sqlite``; thread-safe, and safe across processes."""

    def __init__(self, root: Path) -> None:
        self.path = root / CATALOG
        self._conn = connect(self.path)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.executescript(_SCHEMA)

    def put(self, info: dict[str, Any], info_mtime_ns: int = 0) -> None:
        """Insert or replace the row of one session from its ``info.json`` content (and that file's mtime, by
        which :meth:`reconcile` sees a file changed behind the catalog's back)."""
        row = (info["id"], str(info.get("source", "")), str(info.get("status", "")), str(info.get("engine", "")),
               str(info.get("model_id", "")), info.get("source_size"), info.get("source_mtime"),
               str(info.get("created", "")), json.dumps(info, ensure_ascii=False), info_mtime_ns)
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)

    def write_info(self, folder: Path, info: dict[str, Any]) -> None:
        """Write ``folder/info.json`` (the truth), then its row."""
        write_json(folder / INFO, info)
        self.put(info, mtime_ns(folder / INFO))

    def index(self, folder: Path, info: dict[str, Any]) -> None:
        """The row of a session whose ``info.json`` was written already (a published or recovered session)."""
        self.put(info, mtime_ns(folder / INFO))

    def remove(self, session_id: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    def infos(self, status: str | None = None) -> list[dict[str, Any]]:
        """Every session's info, newest first (only those with ``status`` when given)."""
        sql = "SELECT info FROM sessions" + (" WHERE status = ?" if status else "") + " ORDER BY created DESC"
        with self._lock:
            rows = self._conn.execute(sql, (status,) if status else ()).fetchall()
        return [json.loads(r[0]) for r in rows]

    def by_source(self, source: str) -> list[dict[str, Any]]:
        """Sessions of one source path, newest first."""
        with self._lock:
            rows = self._conn.execute("SELECT info FROM sessions WHERE source = ? ORDER BY created DESC",
                                      (source,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def stamps(self) -> dict[str, int]:
        """Each session id with the ``info.json`` mtime its row was made from."""
        with self._lock:
            return dict(self._conn.execute("SELECT id, info_mtime_ns FROM sessions").fetchall())

    def reconcile(self, folders: dict[str, int], read_info: Callable[[str], dict[str, Any] | None]) -> int:
        """Bring the rows in step with ``folders`` (session id to its ``info.json`` mtime): add the missing,
        re-read the changed, drop those whose folder is gone; returns how many rows changed. ``read_info``
        reads one folder's ``info.json`` (None when it is unreadable)."""
        known = self.stamps()
        changed = 0
        for session_id in set(known) - set(folders):
            self.remove(session_id)
            changed += 1
        for session_id in sorted(folders):
            if known.get(session_id) == folders[session_id]:
                continue
            info = read_info(session_id)
            if info is not None and info.get("id") == session_id:
                self.put(info, folders[session_id])
                changed += 1
        return changed

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def session_stamps(root: Path) -> dict[str, int]:
    """Each session folder's name under ``root`` with the mtime of its ``info.json`` (a listing and one stat each)."""
    with os.scandir(root) as entries:
        names = [e.name for e in entries if is_session_id(e.name) and e.is_dir()]
    stamps = {name: mtime_ns(root / name / INFO) for name in names}
    return {name: stamp for name, stamp in stamps.items() if stamp}


def mtime_ns(path: Path) -> int:
    """``path``'s modification time in nanoseconds; 0 when it is gone."""
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0
