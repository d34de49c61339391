"""Cut long audio at pauses into windows of at most 30 s, using a frame-energy detector."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aero_agent.engines.whisper.features import SAMPLE_RATE

FRAME = 160  # 10 ms frames


@dataclass(frozen=True)
class Window:
    """A stretch of audio in samples, and whether it holds any sound above the pause level."""

    start: int
    end: int
    has_speech: bool = True

    @property
    def duration_s(self) -> float:
        return (self.end - self.start) / SAMPLE_RATE


class EnergyProfile:
    """Smoothed frame energies in dB and the level below which a frame counts as a pause."""

    def __init__(self, samples: np.ndarray) -> None:
        n = len(samples) // FRAME
        frames = samples[: n * FRAME].reshape(n, FRAME).astype(np.float64) if n else np.zeros((1, FRAME))
        db = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-10)
        kernel = np.ones(5) / 5.0  # 50 ms smoothing
        self.db = np.convolve(db, kernel, mode="same") if len(db) >= 5 else db
        # Digital silence (zeros between joined takes, muted stretches) would drag a plain percentile
        # down to -100 dB and hide every real pause above it; estimate the noise floor without it.
        audible = self.db[self.db > -90.0]
        levels = audible if len(audible) >= 0.2 * len(self.db) else self.db
        floor, loud = np.percentile(levels, 10), np.percentile(levels, 95)
        self.threshold = floor + max(0.25 * (loud - floor), 3.0)
        self.quiet = self.db < self.threshold

    def speech_frames(self, lo: int, hi: int) -> int:
        """Frames above the pause level between two sample offsets."""
        return int((~self.quiet[lo // FRAME: hi // FRAME]).sum())

    def last_speech_s(self, lo: int, hi: int) -> float:
        """Seconds from ``lo`` to the end of the last frame above the pause level before ``hi`` (0 if none)."""
        loud = np.nonzero(~self.quiet[lo // FRAME: hi // FRAME])[0]
        return float((loud[-1] + 1) * FRAME / SAMPLE_RATE) if len(loud) else 0.0

    def best_cut(self, lo: int, hi: int) -> int:
        """A sample offset in [lo, hi) in the middle of the latest long pause (the quietest frame if none)."""
        a, b = lo // FRAME, max(lo // FRAME + 1, hi // FRAME)
        quiet = self.quiet[a:b]
        runs: list[tuple[int, int]] = []
        start = None
        for i, q in enumerate(quiet):
            if q and start is None:
                start = i
            elif not q and start is not None:
                runs.append((start, i))
                start = None
        if start is not None:
            runs.append((start, len(quiet)))
        for min_len in (30, 15, 5):  # 300 ms, 150 ms, 50 ms
            long_runs = [r for r in runs if r[1] - r[0] >= min_len]
            if long_runs:
                s, e = long_runs[-1]
                return (a + (s + e) // 2) * FRAME
        return (a + int(np.argmin(self.db[a:b]))) * FRAME


def pause_windows(samples: np.ndarray, max_s: float = 30.0, min_s: float = 15.0,
                  profile: EnergyProfile | None = None) -> list[Window]:
    """Windows of at most ``max_s`` seconds covering ``samples``, cut at pauses; silent ones are flagged."""
    profile = profile or EnergyProfile(samples)
    total, max_len, min_len = len(samples), int(max_s * SAMPLE_RATE), int(min_s * SAMPLE_RATE)
    windows, pos = [], 0
    while pos < total:
        if total - pos <= max_len:
            end = total
        else:
            end = profile.best_cut(pos + min_len, pos + max_len - FRAME)
        speech = profile.speech_frames(pos, end) >= 10  # 100 ms above the pause level
        windows.append(Window(pos, end, speech))
        pos = end
    return windows


def uncovered_speech(profile: EnergyProfile, window: Window, covered: list[tuple[float, float]],
                     min_speech_s: float = 0.4, margin_s: float = 0.2) -> list[Window]:
    """Gaps of ``window`` between transcribed spans (seconds) that still hold speech: what the decoder skipped.

    Each gap runs from the end of one transcribed span to the start of the next (or the window's edge), so
    re-decoding it cannot clip a word that the first pass placed correctly.
    """
    edges = [window.start / SAMPLE_RATE] + [t for span in sorted(covered) for t in span] + [window.end / SAMPLE_RATE]
    gaps = []
    for lo_s, hi_s in zip(edges[0::2], edges[1::2]):
        lo = int((lo_s + margin_s) * SAMPLE_RATE)
        hi = int((hi_s - margin_s) * SAMPLE_RATE)
        if hi - lo > min_speech_s * SAMPLE_RATE and profile.speech_frames(lo, hi) * FRAME >= min_speech_s * SAMPLE_RATE:
            gaps.append(Window(max(window.start, int(lo_s * SAMPLE_RATE)), min(window.end, int(hi_s * SAMPLE_RATE))))
    return gaps
