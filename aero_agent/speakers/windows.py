"""Where to embed: short overlapping windows laid over the speech regions of a recording."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class WindowPlan:
    """Embedding windows (``starts``, all ``length_s`` long) and the speech regions they were laid on."""

    starts: np.ndarray
    length_s: float
    regions: list[tuple[float, float]]
    region_of: np.ndarray
    """For each window, the index of its region."""

    @property
    def centers(self) -> np.ndarray:
        return self.starts + self.length_s / 2

    def __len__(self) -> int:
        return len(self.starts)


def merge_regions(speech: Sequence[tuple[float, float]], duration_s: float,
                  min_gap_s: float = 0.0) -> list[tuple[float, float]]:
    """Speech regions sorted, clipped to the recording, empty ones dropped and overlapping ones joined."""
    spans = sorted((max(0.0, float(a)), min(duration_s, float(b))) for a, b in speech)
    merged: list[tuple[float, float]] = []
    for start, end in spans:
        if end <= start:
            continue
        if merged and start <= merged[-1][1] + min_gap_s:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def plan_windows(regions: Sequence[tuple[float, float]], duration_s: float, length_s: float,
                 hop_s: float) -> WindowPlan:
    """Windows every ``hop_s`` across each region, the last one flush with its end.

    A region shorter than a window gets one window centred on it (reaching into the audio around it, so
    every region, however short, is heard by the encoder).
    """
    starts: list[float] = []
    owner: list[int] = []
    latest = max(0.0, duration_s - length_s)
    for index, (start, end) in enumerate(regions):
        if end - start <= length_s:
            points = [min(latest, max(0.0, (start + end - length_s) / 2))]
        else:
            count = int(np.ceil((end - start - length_s) / hop_s)) + 1
            points = list(np.linspace(start, end - length_s, count))
        starts += points
        owner += [index] * len(points)
    return WindowPlan(np.asarray(starts, dtype=np.float64), length_s, list(regions), np.asarray(owner, dtype=int))
