"""The diarizer protocol, its options and its result: who speaks when, as labelled turns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from aero_agent.errors import InvalidArgumentError

MAX_SPEAKERS = 20


def speaker_label(index: int) -> str:
    """``SPEAKER_00``, ``SPEAKER_01``, ...: the labels every layer shows."""
    return f"SPEAKER_{index:02d}"


@dataclass(frozen=True)
class SpeakerTurn:
    """One stretch of time in which one speaker talks."""

    start: float
    end: float
    speaker: str


@dataclass(frozen=True)
class SpeakerWindows:
    """The clustering pass's windows: start times (seconds), their common length and unit GE2E embeddings
    ``(n, 256)``; what voice prints are made of, so identification needs no second encoder pass."""

    starts: np.ndarray
    length_s: float
    embeddings: np.ndarray


@dataclass(frozen=True)
class Diarization:
    """Speaker turns, and the windows they were clustered from (``None`` when there was no speech)."""

    turns: list[SpeakerTurn]
    windows: SpeakerWindows | None


def _count(value: int | None, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= MAX_SPEAKERS:
        raise InvalidArgumentError(f"{what} must be a whole number from 1 to {MAX_SPEAKERS}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class DiarizationOptions:
    """How many speakers to find: a fixed ``num_speakers``, or bounds for the automatic count.

    The constructor checks the values, so a bad count fails where it is given, not halfway through a pass.
    """

    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None

    def __post_init__(self) -> None:
        num = _count(self.num_speakers, "num_speakers")
        low = _count(self.min_speakers, "min_speakers")
        high = _count(self.max_speakers, "max_speakers")
        if num is not None and (low is not None or high is not None):
            raise InvalidArgumentError("give num_speakers, or min_speakers/max_speakers, not both")
        if low is not None and high is not None and low > high:
            raise InvalidArgumentError(f"min_speakers ({low}) is more than max_speakers ({high})")

    @property
    def bounds(self) -> tuple[int, int]:
        """The smallest and largest speaker count allowed."""
        if self.num_speakers is not None:
            return self.num_speakers, self.num_speakers
        return self.min_speakers or 1, self.max_speakers or MAX_SPEAKERS


@runtime_checkable
class Diarizer(Protocol):
    """Finds who speaks when in 16 kHz mono samples, within the given speech regions (seconds)."""

    def diarize(self, samples: np.ndarray, speech: Sequence[tuple[float, float]],
                options: DiarizationOptions = DiarizationOptions()) -> list[SpeakerTurn]:
        """Speaker turns, in time order, covering the speech regions; ``[]`` when there is no speech."""
        ...


def requested_diarization(speakers: bool = False, num_speakers: int | None = None, min_speakers: int | None = None,
                          max_speakers: int | None = None) -> DiarizationOptions | None:
    """The options for a call that asked for speakers (``speakers=True`` or any count), else None.

    Raises :class:`InvalidArgumentError` for a bad count, before any audio is decoded.
    """
    if not isinstance(speakers, bool):
        raise InvalidArgumentError(f"speakers must be true or false, got {speakers!r}")
    if not speakers and num_speakers is None and min_speakers is None and max_speakers is None:
        return None
    return DiarizationOptions(num_speakers, min_speakers, max_speakers)
