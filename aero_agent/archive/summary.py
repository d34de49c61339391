"""The typed result of an index run, as ``--json`` prints it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class FileFailure(BaseModel):
    """A file that could not be indexed, and why."""

    path: str
    reason: str


class FileDone(BaseModel):
    """A file indexed in this run, and the session it became."""

    path: str
    session_id: str
    duration_s: float


class IndexSummary(BaseModel):
    """What one run did: counts, the failures with their reasons, audio time and wall time."""

    store: str
    backend: Literal["inline", "processes", "ray"]
    workers: int
    files: int = Field(description="Media files found under the given paths.")
    done: list[FileDone] = Field(default_factory=list)
    skipped: int = Field(0, description="Files already in the store (same path, size and mtime, or same content).")
    failed: list[FileFailure] = Field(default_factory=list)
    failed_before: int = Field(0, description="Unchanged files that failed in an earlier run (see --retry-failed).")
    audio_hours: float = Field(0.0, description="Audio indexed in this run, in hours.")
    wall_s: float = 0.0

    @property
    def speed(self) -> float:
        """Audio hours per wall hour."""
        return self.audio_hours * 3600 / self.wall_s if self.wall_s > 0 else 0.0

    def line(self) -> str:
        """One line for people."""
        return (f"indexed {len(self.done)}, skipped {self.skipped}, failed {len(self.failed)}"
                + (f" (+{self.failed_before} failed before)" if self.failed_before else "")
                + f" of {self.files} files; {self.audio_hours * 60:.1f} min of audio in {self.wall_s:.1f} s"
                + (f" ({self.speed:.1f}x real time)" if self.done else ""))
