"""A tenant's cap on audio hours encoded per day (UTC), kept in a small file of its store across restarts."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aero_agent.persistence import write_json
from aero_mcp.backend import UserError


class QuotaExceededError(UserError):
    """A tenant's quota does not leave room for the request."""


def _today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


class DailyAudio:
    """Seconds of audio encoded today, against ``cap_h`` hours (``None``: no cap, nothing is written)."""

    def __init__(self, path: Path, cap_h: float | None) -> None:
        self.path = path
        self.cap_s = None if cap_h is None else cap_h * 3600.0
        self._lock = threading.Lock()

    def used_s(self) -> float:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            return 0.0
        return float(data.get(_today(), 0.0)) if isinstance(data, dict) else 0.0

    def check(self, more_s: float = 0.0) -> None:
        """Raise :class:`QuotaExceededError` when ``more_s`` seconds more would go over today's cap."""
        if self.cap_s is None:
            return
        used = self.used_s()
        if used + more_s > self.cap_s + 1e-6:
            left = max(0.0, self.cap_s - used)
            raise QuotaExceededError(
                f"QuotaExceeded: this tenant may encode {self.cap_s / 3600:g} h of audio a day (UTC); "
                f"{used / 3600:.2f} h are used and {left / 60:.1f} min are left, so {more_s / 60:.1f} min more do "
                "not fit. Try again tomorrow or ask the operator for a higher max_audio_hours_per_day.")

    def charge(self, seconds: float) -> None:
        """Check, then count ``seconds`` of audio against today (atomically among this process's threads)."""
        if self.cap_s is None or seconds <= 0:
            return
        with self._lock:
            self.check(seconds)
            write_json(self.path, {_today(): self.used_s() + seconds})


async def charge_or_close(meter: DailyAudio, backend: Any, store: Any, info: Any) -> None:
    """Count a newly opened session's audio against the day; over the cap, close the session again and refuse."""
    try:
        meter.charge(info.duration_s)
    except QuotaExceededError:
        await backend.run(store.close, info.id, what="closing the refused session")
        raise
