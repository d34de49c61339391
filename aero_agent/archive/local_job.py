"""The local backends: one engine in this process, or a pool of engine processes with the cores shared out."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator, Sequence

from aero_agent.archive.plan import Task
from aero_agent.archive.worker import EngineOptions, FileIndexer, Outcome, index_in_worker, init_worker


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Each of ``workers`` engine processes gets an equal share of the cores (at least one), so together
    they never run more math threads than there are cores."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // max(1, workers))


def run_inline(tasks: Sequence[Task], options: EngineOptions, engine: Any = None,
               scratch: Path | None = None) -> Iterator[tuple[Task, Outcome]]:
    """Every file in this process, one after another (``--workers 1``). With ``scratch`` (a folder on the
    store's disk) each session is built there and handed over as its folder, for the store to rename in."""
    if scratch is not None:
        scratch.mkdir(parents=True, exist_ok=True)
        options = replace(options, scratch=str(scratch))
    indexer = FileIndexer(options, engine=engine, in_process=scratch is not None)
    try:
        for task in tasks:
            yield task, indexer.index(task.file.path)
    finally:
        indexer.close()


def run_pool(tasks: Sequence[Task], options: EngineOptions, workers: int,
             attempts: int = 2) -> Iterator[tuple[Task, Outcome]]:
    """Files on ``workers`` engine processes, results in the order they finish.

    Only as many files as there are workers are in flight, so when a worker dies (killed, out of memory) the
    pool breaks with those files alone to blame: each goes back in the queue, and one that was in flight in
    ``attempts`` broken pools is reported failed with that reason. A fresh pool takes the rest, so one fatal
    file never stops the run.
    """
    scratch = tempfile.mkdtemp(prefix="aero-index-run-")
    options = replace(options, threads=options.threads or threads_per_worker(workers), scratch=scratch)
    try:
        yield from _pooled(tasks, options, workers, attempts)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _pooled(tasks: Sequence[Task], options: EngineOptions, workers: int,
            attempts: int) -> Iterator[tuple[Task, Outcome]]:
    queue = list(tasks)
    blamed: dict[str, int] = {}
    context = multiprocessing.get_context("spawn")  # a fork could inherit torch's thread pools in odd states
    while queue:
        pool = ProcessPoolExecutor(min(workers, len(queue)), mp_context=context, initializer=init_worker,
                                   initargs=(options,))
        running: dict[Future[Outcome], Task] = {}
        broken = False
        try:
            while queue or running:
                while queue and len(running) < workers:
                    task = queue.pop(0)
                    running[pool.submit(index_in_worker, task)] = task
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    task = running.pop(future)
                    try:
                        yield task, future.result()
                    except BrokenProcessPool as exc:
                        broken = True
                        blamed[task.file.path] = blamed.get(task.file.path, 0) + 1
                        if blamed[task.file.path] >= attempts:
                            yield task, Outcome(task.file.path, error=f"the engine process died while indexing "
                                                                      f"it, {attempts} times ({exc})")
                        else:
                            queue.insert(0, task)
                if broken:
                    for future, task in running.items():  # in flight in the broken pool too
                        queue.insert(0, task)
                    break
        finally:
            pool.shutdown(wait=not broken, cancel_futures=True)
