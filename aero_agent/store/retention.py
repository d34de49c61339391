"""Which sessions a bounded store removes to make room (least recently used finished sessions first), and when
it drops sessions from memory.

A policy over a snapshot of the store (:func:`measure` takes it), so the store only acts. Sessions that are not
finished (encoding, and later live) are never chosen; when the request cannot fit even after removing
every finished session, nothing is removed and :class:`StoreFullError` says why.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aero_agent.errors import InvalidArgumentError, SessionNotFoundError, StoreFullError
from aero_agent.persistence.layout import INFO, is_session_id
from aero_agent.results import SessionInfo

if TYPE_CHECKING:
    from aero_agent.session import AudioSession

FINISHED = ("ready", "failed")


@dataclass(frozen=True)
class StoreLimits:
    """Caps on what a store holds on disk; ``None`` means unbounded."""

    max_sessions: int | None = None
    max_store_bytes: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_sessions", "max_store_bytes"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise InvalidArgumentError(f"{name} must be a positive integer or None, not {value!r}")

    @property
    def bounded(self) -> bool:
        return self.max_sessions is not None or self.max_store_bytes is not None


@dataclass(frozen=True)
class StoredSession:
    """One session as the policy sees it: its size on disk, when it was last used, and its status."""

    id: str
    size_bytes: int
    last_used: float
    status: str

    @property
    def removable(self) -> bool:
        return self.status in FINISHED


def plan_removals(sessions: Sequence[StoredSession], limits: StoreLimits, *, new_sessions: int = 0,
                  new_bytes: int = 0, keep: Collection[str] = ()) -> list[str]:
    """Ids to remove, least recently used first, so that the store plus ``new_sessions`` sessions of
    ``new_bytes`` bytes fits ``limits``; ``keep`` are never removed. Raises :class:`StoreFullError`."""
    count = len(sessions) + new_sessions
    size = sum(s.size_bytes for s in sessions) + new_bytes

    def fits() -> bool:
        return ((limits.max_sessions is None or count <= limits.max_sessions)
                and (limits.max_store_bytes is None or size <= limits.max_store_bytes))

    candidates = sorted((s for s in sessions if s.removable and s.id not in keep), key=lambda s: s.last_used)
    chosen: list[str] = []
    for session in candidates:
        if fits():
            break
        chosen.append(session.id)
        count -= 1
        size -= session.size_bytes
    if not fits():
        held = len(sessions) - len(candidates)
        raise StoreFullError(
            f"the session store cannot make room: it would hold {count} sessions and {size:,} bytes against "
            f"limits of {_limit(limits.max_sessions, 'sessions')} and {_limit(limits.max_store_bytes, 'bytes')}, "
            f"and the {held} session(s) left are still encoding or in use, which are never removed; close a "
            f"session or wait for an encoding to finish")
    return chosen


def measure(root: Path, status: Callable[[str], SessionInfo], last_used: dict[str, float]) -> list[StoredSession]:
    """Every session under ``root`` with its size, last use (``last_used`` in this process, or its last turn) and
    status (``status`` reads it)."""
    out = []
    for folder in root.iterdir():
        if not is_session_id(folder.name) or not (folder / INFO).exists():
            continue
        try:
            info = status(folder.name)
            files = [p.stat() for p in folder.rglob("*") if p.is_file()]
            # info.updated moves with turns, not with saves on eviction, so it survives a restart
            used = max(last_used.get(folder.name, 0.0), datetime.fromisoformat(info.updated).timestamp())
        except (OSError, ValueError, SessionNotFoundError):
            continue  # removed or rewritten meanwhile
        out.append(StoredSession(folder.name, sum(f.st_size for f in files), used, info.status))
    return out


def over_memory(loaded: Sequence[AudioSession], max_loaded: int, max_memory_bytes: int | None) -> bool:
    """True when the sessions in memory are more than ``max_loaded``, or hold more engine tensors than
    ``max_memory_bytes`` (and are more than one)."""
    if len(loaded) > max_loaded:
        return True
    if max_memory_bytes is None:
        return False
    return sum(_tensor_bytes(s) for s in loaded) > max_memory_bytes and len(loaded) > 1


def _tensor_bytes(session: AudioSession) -> int:
    if session.encoded is None:
        return 0
    return sum(t.numel() * t.element_size() for t in session.encoded.tensors.values())


def _limit(value: int | None, unit: str) -> str:
    return f"no limit on {unit}" if value is None else f"{value:,} {unit}"
