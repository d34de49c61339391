"""The progress display of an index run: files and audio hours done, throughput, and the time left.

On a terminal one line is redrawn in place; otherwise (a log, CI, a pipe) a plain line is written per file.
The time left is estimated from bytes: audio time per byte so far times the bytes still to do, since the
duration of a file is only known once it is decoded.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = int(max(0.0, seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def failed_line(path: str, reason: str) -> str:
    """``path: reason``, without the path twice (audio errors already start with it)."""
    return reason if reason.startswith(path) else f"{path}: {reason}"


class Progress:
    """Counts what is done of ``files`` files totalling ``total_bytes`` and draws it on ``stream``."""

    def __init__(self, files: int, total_bytes: int, stream: TextIO | None = None, width: int = 24) -> None:
        self.files, self.total_bytes = files, max(1, total_bytes)
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.width = width
        self.started = time.monotonic()
        self.done = self.failed = 0
        self.bytes_done = 0
        self.audio_s = 0.0

    def update(self, path: str, size: int, audio_s: float, error: str | None = None) -> None:
        self.bytes_done += size
        if error is None:
            self.done += 1
            self.audio_s += audio_s
        else:
            self.failed += 1
        self._draw(path, error)

    @property
    def speed(self) -> float:
        """Audio seconds per wall second so far."""
        elapsed = time.monotonic() - self.started
        return self.audio_s / elapsed if elapsed > 0 else 0.0

    def eta_s(self) -> float | None:
        if not self.audio_s or not self.speed:
            return None
        left_audio = self.audio_s / self.bytes_done * (self.total_bytes - self.bytes_done)
        return left_audio / self.speed

    def line(self) -> str:
        count = self.done + self.failed
        filled = int(self.width * count / max(1, self.files))
        eta = self.eta_s()
        return (f"[{'#' * filled}{'.' * (self.width - filled)}] {count}/{self.files} files"
                + (f", {self.failed} failed" if self.failed else "")
                + f", {_clock(self.audio_s)} of audio, {self.speed:.1f}x real time"
                + (f", {_clock(eta)} left" if eta is not None and count < self.files else ""))

    def _draw(self, path: str, error: str | None) -> None:
        if self.tty:
            self.stream.write("\r\033[K" + self.line())
            if error is not None:
                self.stream.write(f"\n  failed: {failed_line(path, error)}\n")
        else:
            state = f"failed: {failed_line(path, error)}" if error is not None else f"{path}: done"
            self.stream.write(f"{self.line()} | {state}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and (self.done or self.failed):
            self.stream.write("\n")
            self.stream.flush()
