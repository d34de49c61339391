"""Which sessions a bounded store removes to make room: least recently used finished sessions first.

A pure policy over a snapshot of the store, so the store only measures and acts. Sessions that are not
finished (encoding, and later live) are never chosen; when the request cannot fit even after removing
every finished session, nothing is removed and :class:`StoreFullError` says why.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from aero_agent.errors import InvalidArgumentError, StoreFullError

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


def _limit(value: int | None, unit: str) -> str:
    return f"no limit on {unit}" if value is None else f"{value:,} {unit}"
