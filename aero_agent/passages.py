"""Passages: what search ranks. Every segment on its own, plus windows of adjacent segments, so an answer that
crosses a segment boundary is found too; each passage keeps its true start and end."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

from aero_agent.transcript import Segment


@dataclass(frozen=True)
class PassageOptions:
    """How windows are cut: they grow to ``window_s``, never past ``max_window_s``, and start every ``stride_s``."""

    window_s: float = 20.0
    max_window_s: float = 30.0
    stride_s: float = 10.0
    singles: bool = True  # each segment is a passage as well, so a short exact answer is not diluted


@dataclass(frozen=True)
class Passage:
    """Adjacent segments ``first`` to ``last`` (indices in the transcript) of one speaker (or none)."""

    start: float
    end: float
    text: str
    first: int
    last: int
    speaker: str | None = None

    @property
    def key(self) -> str:
        """Identifies the passage's content, so a stored vector is reused only for the same text and times."""
        raw = f"{self.start:.3f}|{self.end:.3f}|{self.text}"
        return hashlib.blake2b(raw.encode("utf-8"), digest_size=10).hexdigest()


def _passage(segments: Sequence[Segment], first: int, last: int) -> Passage:
    text = " ".join(s.text.strip() for s in segments[first:last + 1] if s.text.strip())
    return Passage(start=segments[first].start, end=segments[last].end, text=text, first=first, last=last,
                   speaker=segments[first].speaker)


def _speaker_runs(segments: Sequence[Segment]) -> list[tuple[int, int]]:
    """(first, last) index ranges of consecutive segments with the same speaker label."""
    runs, start = [], 0
    for i in range(1, len(segments) + 1):
        if i == len(segments) or segments[i].speaker != segments[start].speaker:
            runs.append((start, i - 1))
            start = i
    return runs


def _windows(segments: Sequence[Segment], first: int, last: int, options: PassageOptions) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    i = first
    while i <= last:
        j = i
        while (j < last and segments[j].end - segments[i].start < options.window_s
               and segments[j + 1].end - segments[i].start <= options.max_window_s):
            j += 1
        if j > i:
            out.append((i, j))
        if j == last:
            break
        nxt = i + 1
        while nxt < j and segments[nxt].start < segments[i].start + options.stride_s:
            nxt += 1
        i = nxt
    return out


def build_passages(segments: Sequence[Segment], options: PassageOptions = PassageOptions()) -> list[Passage]:
    """Singles and windows over ``segments`` (segments without text are skipped), in time order.

    Windows never cross a change of speaker, so a speaker filter keeps whole passages.
    """
    kept = [s for s in segments if s.text.strip()]
    index = [i for i, s in enumerate(segments) if s.text.strip()]
    spans: set[tuple[int, int]] = set()
    if options.singles:
        spans.update((i, i) for i in range(len(kept)))
    for first, last in _speaker_runs(kept):
        spans.update(_windows(kept, first, last, options))
    passages = []
    for first, last in sorted(spans):
        p = _passage(kept, first, last)
        passages.append(Passage(p.start, p.end, p.text, index[first], index[last], p.speaker))
    return sorted(passages, key=lambda p: (p.start, p.end))
