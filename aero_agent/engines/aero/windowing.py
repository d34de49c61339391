"""Split a recording longer than one context into overlapping passes ("segments") of whole windows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from aero_agent.engines.aero.processor import AudioWindow


@dataclass(frozen=True)
class SegmentPlan:
    """Windows ``first:last`` (end exclusive) encoded into one prefix cache."""

    index: int
    first: int
    last: int


def prefix_tokens(windows: Sequence[AudioWindow], header: int, separator: int) -> int:
    """Tokens of a prefix holding ``windows``: header, audio tokens and one separator between windows."""
    return header + sum(w.tokens for w in windows) + separator * max(0, len(windows) - 1)


def plan_segments(windows: Sequence[AudioWindow], header: int, separator: int, budget: int,
                  segment_windows: int, overlap_windows: int) -> list[SegmentPlan]:
    """One segment when the whole prefix fits ``budget`` tokens; otherwise evenly sized segments of at
    most ``segment_windows`` windows (and ``budget`` tokens) that overlap by ``overlap_windows``."""
    n = len(windows)
    if n == 0 or prefix_tokens(windows, header, separator) <= budget:
        return [SegmentPlan(0, 0, n)]
    per_window = max(w.tokens for w in windows) + separator
    fit = max(1, (budget - header + separator) // per_window)
    size = max(1, min(segment_windows, fit))
    overlap = min(overlap_windows, size - 1)
    count = math.ceil((n - overlap) / (size - overlap))
    step = math.ceil((n - overlap) / count)
    plans: list[SegmentPlan] = []
    start = 0
    while True:
        end = min(n, start + step + overlap)
        plans.append(SegmentPlan(len(plans), start, end))
        if end >= n:
            return plans
        start = end - overlap
