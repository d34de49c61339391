"""An index run: find the files, skip what the store has, index the rest on a backend, record each result.

The run holds a lock on the store (one run per store; its own workers share the work) and is the store's only
writer for what it indexes: workers hand back session files, and this process publishes each one and
records it in the manifest. So a run killed at any moment and started again redoes only the files whose
sessions were not yet published, and never publishes one file twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from aero_agent.archive.discovery import discover
from aero_agent.archive.manifest import Manifest, Profile
from aero_agent.archive.plan import Plan, Task, make_plan, settle_publications
from aero_agent.archive.progress import Progress
from aero_agent.archive.summary import FileDone, FileFailure, IndexSummary
from aero_agent.archive.worker import EngineOptions, Outcome
from aero_agent.errors import InvalidArgumentError, StoreBusyError
from aero_agent.locks import FileLock
from aero_agent.persistence.layout import scratch_folder

RUN_LOCK = ".index.lock"


@dataclass(frozen=True)
class IndexOptions:
    """One run: where to store, how to find files, what to make of them, and where the engines run."""

    store: str | Path
    engine: EngineOptions = field(default_factory=EngineOptions)
    workers: int = 1
    globs: tuple[str, ...] = ()
    retry_failed: bool = False
    ray: bool = False
    ray_address: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or not 1 <= self.workers <= 256:
            raise InvalidArgumentError(f"workers must be a whole number from 1 to 256, got {self.workers!r}")

    @property
    def profile(self) -> Profile:
        return Profile(self.engine.engine, self.engine.model, self.engine.speakers)


class Publisher:
    """The store's single writer in a run: publishes each finished session, then records it as done."""

    def __init__(self, root: Path, manifest: Manifest, profile: Profile) -> None:
        from aero_agent.store import SessionStore  # only when there is work: a rerun with none needs no torch

        self.store = SessionStore(root)
        self.manifest, self.profile = manifest, profile

    def record(self, task: Task, outcome: Outcome) -> None:
        file = task.file
        if outcome.error is not None or not (outcome.files or outcome.folder):
            self.manifest.record(file.path, file.size, file.mtime, task.content_hash, self.profile, "failed",
                                 error=outcome.error or "no session was made")
            return
        # first the intent with the session id, then the rename, then done: a kill between them is settled
        # on the next start by looking for that one folder
        self.manifest.record(file.path, file.size, file.mtime, task.content_hash, self.profile, "publishing",
                             outcome.session_id, outcome.duration_s)
        if outcome.folder is not None:
            self.store.publish(Path(outcome.folder))  # built in this process on the store's disk: renamed in
        else:
            self.store.adopt(outcome.files or {})
        from aero_agent.voices.store_hooks import identify_adopted

        identify_adopted(self.store, outcome.session_id)
        self.manifest.mark_done(file.path)

    def close(self) -> None:
        self.store.shutdown()


def _backend(tasks: Sequence[Task], options: IndexOptions, engine: Any, root: Path) -> Iterator[tuple[Task, Outcome]]:
    if options.ray:
        from aero_agent.archive.ray_job import run_ray

        return run_ray(tasks, options.engine, options.workers, options.ray_address)
    if options.workers == 1:
        from aero_agent.archive.local_job import run_inline

        return run_inline(tasks, options.engine, engine, scratch_folder(root))
    from aero_agent.archive.local_job import run_pool

    return run_pool(tasks, options.engine, options.workers)


def run_index(paths: Sequence[str | Path], options: IndexOptions, *, progress: Progress | bool = True,
              engine: Any = None) -> IndexSummary:
    """Index every media file under ``paths`` into the store; returns what was done, skipped and failed.

    ``engine`` (inline runs only) reuses an engine already loaded in this process.
    """
    started = time.monotonic()
    root = Path(options.store).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(root / RUN_LOCK)
    if not lock.acquire(blocking=False):
        raise StoreBusyError(f"{root}: another aero-agent index run is using this store; wait for it to end "
                             "(or give that run more --workers)")
    manifest = Manifest(root)
    try:
        files = discover(paths, options.globs)
        settle_publications(manifest, root)
        plan = make_plan(files, manifest, options.profile, options.retry_failed)
        backend = "ray" if options.ray else "inline" if options.workers == 1 else "processes"
        summary = IndexSummary(store=str(root), backend=backend, workers=options.workers, files=len(files),
                               skipped=plan.skipped, failed_before=plan.failed_before)
        if plan.todo:
            _work(plan, options, engine, root, manifest, summary, progress)
        summary.wall_s = round(time.monotonic() - started, 3)
        return summary
    finally:
        manifest.close()
        lock.release()


def _work(plan: Plan, options: IndexOptions, engine: Any, root: Path, manifest: Manifest, summary: IndexSummary,
          progress: Progress | bool) -> None:
    bar = progress if isinstance(progress, Progress) else None
    if progress is True:
        bar = Progress(len(plan.todo), sum(t.file.size for t in plan.todo))
    publisher = Publisher(root, manifest, options.profile)
    sessions: dict[str, FileDone] = {}
    try:
        for task, outcome in _backend(plan.todo, options, engine, root):
            publisher.record(task, outcome)
            if outcome.error is None and outcome.session_id:
                done = FileDone(path=task.file.path, session_id=outcome.session_id, duration_s=outcome.duration_s)
                summary.done.append(done)
                summary.audio_hours += outcome.duration_s / 3600
                sessions[task.content_hash] = done
            else:
                summary.failed.append(FileFailure(path=task.file.path, reason=outcome.error or "unknown"))
            if bar is not None:
                bar.update(task.file.path, task.file.size, outcome.duration_s, outcome.error)
        for copy, original in plan.twins:  # same bytes as a file indexed above: the same session
            done = sessions.get(original.content_hash)
            if done is not None:
                manifest.record(copy.file.path, copy.file.size, copy.file.mtime, copy.content_hash, options.profile,
                                "done", done.session_id, done.duration_s)
                summary.skipped += 1
    finally:
        if bar is not None:
            bar.close()
        publisher.close()
    summary.audio_hours = round(summary.audio_hours, 6)
