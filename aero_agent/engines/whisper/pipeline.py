"""The batched pipeline: batches of jobs run on worker threads (one core each), the batch that finishes first
handled first, speech its windows skipped queued again as repair windows, progress reported per batch."""

from __future__ import annotations

from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Callable, Sequence

import torch

from aero_agent.engines.base import EncodeProgress, ProgressFn
from aero_agent.engines.whisper.chunking import SpeechMap
from aero_agent.engines.whisper.jobs import Job, JobQueue
from aero_agent.engines.whisper.memory import trim_heap
from aero_agent.transcript import Segment

BatchRunner = Callable[[Sequence[Job]], list[list[Segment]]]
"""Encodes and decodes one batch: each job's segments in clip time."""


def run_batches(queue: JobQueue, run_batch: BatchRunner, workers: int, maps: Sequence[SpeechMap],
                samples: Sequence, repair_rounds: int, progress: ProgressFn | None = None) -> list[list[Segment]]:
    """Every job of ``queue`` (and the repairs they call for) through ``run_batch``, on ``workers`` threads of
    one core each when more than one; each clip's segments (``maps`` and ``samples``: the clips' speech maps and
    audio, for the repair windows).

    Any stretch of a window that still holds speech but got no segment (Whisper sometimes ends a window early)
    goes back into the queue as a window of its own, up to ``repair_rounds`` times, so no words are lost."""
    clips = len(maps)
    found: list[list[Segment]] = [[] for _ in range(clips)]
    done, total = 0, len(queue)
    pending: deque[tuple[list[Job], Future[list[list[Segment]]]]] = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix="aero-whisper") as pool:
        if workers > 1:
            torch.set_num_threads(1)  # one core per worker
        if progress is not None:
            progress(EncodeProgress(0, total, []))
        try:
            while queue or pending:
                batch = queue.next_batch() if queue and len(pending) < workers else []
                if batch:
                    pending.append((batch, pool.submit(run_batch, batch)))
                    continue
                # the batch that finishes first, not the oldest: a worker must not wait on the other's batch
                wait([f for _, f in pending], return_when=FIRST_COMPLETED)
                first = next(k for k, (_, f) in enumerate(pending) if f.done())
                batch, future = pending[first]
                del pending[first]
                repairs = []
                for job, segments in zip(batch, future.result()):
                    queue.finished(job)
                    found[job.clip].extend(segments)
                    if job.round < repair_rounds:
                        smap = maps[job.clip]
                        gaps = smap.uncovered_speech(job.window, [(s.start, s.end) for s in segments])
                        repairs += [Job.of(job.clip, samples[job.clip], g, smap, job.round + 1) for g in gaps]
                queue.extend(repairs)
                trim_heap()  # the finished batch's small blocks: see memory.py
                done, total = done + len(batch), total + len(repairs)
                found[0].sort(key=lambda s: s.start)
                if progress is not None:
                    progress(EncodeProgress(done, total, list(found[0]) if clips == 1 else []))
        finally:
            for _, future in pending:
                future.cancel()
    return found
