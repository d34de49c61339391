"""Advisory file locks (``fcntl.flock``) between processes sharing one store.

The kernel drops a flock when its holder dies, ``kill -9`` included, so a lock that can be taken means its
last holder is gone: that is how a store tells a session another process is still encoding from one a dead
process left behind. Where flock is missing (Windows) the locks are no-ops and one process per store is
assumed, as before.
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

_HELD: set[str] = set()  # paths this process holds: for it they are its own, not another process's


class FileLock:
    """An exclusive lock on ``path`` (created if missing). Not reentrant; one holder per open lock object."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock; with ``blocking`` False return False at once when another holder has it."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                os.close(fd)
                return False
        self._fd = fd
        _HELD.add(str(self.path))
        return True

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            _HELD.discard(str(self.path))
            os.close(fd)  # closing the descriptor drops the flock

    def __enter__(self) -> "FileLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def held_elsewhere(path: Path) -> bool:
    """True when another live process holds the lock on ``path`` (False when it is free, missing, or held by
    this process, which knows its own sessions)."""
    if not path.exists() or str(path) in _HELD:
        return False
    probe = FileLock(path)
    if probe.acquire(blocking=False):
        probe.release()
        return False
    return True
