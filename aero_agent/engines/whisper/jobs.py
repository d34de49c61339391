"""Encoder windows waiting for a batch: one :class:`Job` per window of a clip, and the :class:`JobQueue` that
orders them (first-pass speech in time order, doubtful and repair windows apart, streams conditioned on the
text before them)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from aero_agent.engines.whisper.chunking import SpeechMap, Window
from aero_agent.engines.whisper.features import SAMPLE_RATE


@dataclass(eq=False)
class Job:
    """One encoder window of one clip, and the pass that produced it (0 first, 1 repair). Its samples are cut
    from the clip only when its batch runs, so a long recording's queue holds no copies of its audio."""

    clip: int
    window: Window
    speech: SpeechMap
    samples: np.ndarray
    round: int = 0
    speech_end_s: float = 0.0
    prompt: tuple[int, ...] = ()
    """Previous text (tokens) the window is decoded after: Whisper's prompt; empty for none."""
    stream: int | None = None
    """The run of windows conditioned one on another that the window belongs to (see :meth:`JobQueue.chain`)."""
    said: tuple[int, ...] = ()
    """Once decoded: its text tokens, for the next window of its stream (empty when the guards rejected or
    doubted it: the stream's prompt starts over)."""

    @property
    def duration_s(self) -> float:
        return self.window.duration_s

    @property
    def side(self) -> bool:
        """A doubtful or repair window: batched apart from first-pass speech, on a shorter encoder input."""
        return self.window.doubtful or self.round > 0

    def audio(self) -> np.ndarray:
        """The window's samples, as the decoder hears them (see :meth:`SpeechMap.window_audio`)."""
        return self.speech.window_audio(self.samples, self.window)

    @classmethod
    def of(cls, clip: int, samples: np.ndarray, window: Window, speech: SpeechMap, round_no: int = 0) -> "Job":
        return cls(clip, window, speech, samples, round_no, speech.last_speech_s(window))

    def place(self, start: float, end: float) -> tuple[float, float]:
        """A span's times in the job as times in its clip."""
        lo, hi = self.window.start / SAMPLE_RATE, self.window.end / SAMPLE_RATE
        return min(start + lo, hi), min(end + lo, hi)


class JobQueue:
    """Jobs waiting for a batch: first-pass speech in time order, then (when ``apart``) doubtful and repair
    windows in batches of their own, the longest first, so that each batch's windows are of similar length and
    its encoder input (padded to the longest) stays short.

    After :meth:`chain`, a speech window waits until the window before it in its stream is :meth:`finished`,
    and is then decoded after that stream's text."""

    def __init__(self, batch_size: int, apart: bool, most_prompt: int = 223) -> None:
        self.batch_size, self.apart, self.most_prompt = batch_size, apart, most_prompt
        self.speech: deque[Job] = deque()
        self.side: list[Job] = []
        self.waiting: dict[int, deque[Job]] = {}  # per stream: its windows after the one ready or in flight
        self.context: dict[int, list[int]] = {}  # per stream: the text its next window is decoded after

    def __len__(self) -> int:
        return len(self.speech) + len(self.side) + sum(len(q) for q in self.waiting.values())

    def extend(self, jobs: Sequence[Job]) -> None:
        for job in jobs:
            (self.side if self.apart and job.side else self.speech).append(job)

    def chain(self, streams: int) -> None:
        """Cut each clip's first-pass speech windows (in time order) into contiguous streams, about ``streams``
        in all (each clip at least one, in proportion to its windows), as even in length as possible; only each
        stream's first window is ready."""
        chained = [job for job in self.speech if not job.side]
        clips: dict[int, list[Job]] = {}
        for job in sorted(chained, key=lambda j: (j.clip, j.window.start)):
            clips.setdefault(job.clip, []).append(job)
        ready, number = [], 0
        for jobs in clips.values():
            count = min(len(jobs), max(1, round(streams * len(jobs) / len(chained))))
            lo = 0
            for k in range(count):
                size = len(jobs) // count + (k < len(jobs) % count)
                run = jobs[lo: lo + size]
                lo += size
                for job in run:
                    job.stream = number
                ready.append(run[0])
                self.waiting[number], self.context[number] = deque(run[1:]), list(run[0].prompt)
                number += 1
        self.speech = deque([job for job in self.speech if job.side] + ready)

    def finished(self, job: Job) -> None:
        """A decoded job: the next window of its stream becomes ready, after the stream's text."""
        if job.stream is None:
            return
        context = self.context[job.stream]
        context[:] = (context + list(job.said))[-self.most_prompt:] if job.said else []  # all a prompt can hold
        successors = self.waiting[job.stream]
        if successors:
            successor = successors.popleft()
            successor.prompt = tuple(context)
            self.speech.append(successor)

    def next_batch(self) -> list[Job]:
        """Up to ``batch_size`` ready jobs; none when every job left waits on one in flight."""
        if self.speech:
            return [self.speech.popleft() for _ in range(min(self.batch_size, len(self.speech)))]
        self.side.sort(key=lambda job: job.duration_s)
        batch, self.side = self.side[-self.batch_size:], self.side[:-self.batch_size]
        return batch
