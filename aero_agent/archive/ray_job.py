"""The Ray backend: the same job as a Ray Data pipeline, for an archive that outgrows one machine.

The file list is a dataset (one file per block, so files spread over the cluster), decoding is a ``map``
step on Ray tasks, and the engine is a class-based ``map_batches`` stage on a fixed pool of actors, each of
which loads the models once (the pattern of Ray's own batch-inference examples). Results stream back to the
driver, which is the store's single writer: the nodes need the audio files at the same paths, not the store.

Ray 2.60's ``map``/``map_batches`` document ``compute=ActorPoolStrategy(size=n)`` / ``TaskPoolStrategy``
(``concurrency=`` is deprecated there), so that is what is used.
"""

from __future__ import annotations

import logging
import pickle
import shutil
import tempfile
from typing import Any, Iterator, Sequence

import numpy as np

from aero_agent.archive.plan import Task
from aero_agent.archive.worker import EngineOptions, FileIndexer, Outcome, decode, failure
from aero_agent.errors import MissingExtraError

INSTALL_HINT = "pip install 'aero-agent[ray]'"


def _ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401  (Ray Data is the part of Ray this needs)
    except ImportError as exc:
        raise MissingExtraError(f"--ray needs Ray Data, which is not installed ({exc.name}); {INSTALL_HINT}") from exc
    return ray


class DecodeRow:
    """The decoding step: a file row in, its 16 kHz samples out (or the reason it cannot be decoded)."""

    def __init__(self, max_duration_s: float) -> None:
        self.max_duration_s = max_duration_s

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        try:
            clip = decode(str(row["path"]), self.max_duration_s)
            return {"index": row["index"], "path": row["path"], "samples": clip.samples.astype(np.float32),
                    "rate": clip.sample_rate, "channels": clip.original_channels,
                    "original_rate": clip.original_sample_rate, "error": ""}
        except Exception as exc:
            return {"index": row["index"], "path": row["path"], "samples": np.zeros(0, dtype=np.float32),
                    "rate": 16_000, "channels": 1, "original_rate": 16_000,
                    "error": failure(str(row["path"]), exc).error}


class IndexActor:
    """The engine stage: one per actor, models loaded once in ``__init__``; a batch of decoded files in, one
    result row per file out (the session's files pickled, or the error)."""

    def __init__(self, options: EngineOptions) -> None:
        self.indexer = FileIndexer(options)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from aero_agent.audio import AudioClip

        results = []
        for i, path in enumerate(batch["path"]):
            path = str(path)
            if batch["error"][i]:
                outcome = Outcome(path, error=str(batch["error"][i]))
            else:
                clip = AudioClip(np.asarray(batch["samples"][i], dtype=np.float32), path,
                                 int(batch["original_rate"][i]), int(batch["channels"][i]))
                outcome = self.indexer.index(path, clip)
            results.append(outcome)
        return {"index": batch["index"], "result": np.array([pickle.dumps(r) for r in results], dtype=object)}


def actor_cpus(ray: Any, workers: int, threads: int | None) -> int:
    """Cores per actor: the given threads, else the cluster's cores shared out, capped at the largest node."""
    if threads:
        return threads
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    largest = max((int(n.get("Resources", {}).get("CPU", 1)) for n in nodes), default=1)
    total = int(ray.cluster_resources().get("CPU", 1))
    return max(1, min(largest, total // max(1, workers)))


def run_ray(tasks: Sequence[Task], options: EngineOptions, workers: int,
            address: str | None = None) -> Iterator[tuple[Task, Outcome]]:
    """Index ``tasks`` on Ray: a local Ray started here when ``address`` is None and none is running, else the
    cluster at ``address`` ("auto" finds the one ``ray start`` made); yields results as they finish."""
    ray = _ray()
    scratch = tempfile.mkdtemp(prefix="aero-index-run-")  # local actors' scratch, removed at the end
    started_here = False
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING,
                 log_to_driver=False, ignore_reinit_error=True)
        started_here = True
    try:
        from ray.data import ActorPoolStrategy, DataContext, TaskPoolStrategy

        context = DataContext.get_current()
        context.enable_progress_bars = False  # the run draws its own
        cpus = actor_cpus(ray, workers, options.threads)
        engine_options = EngineOptions(options.engine, options.model, options.speakers, cpus, options.max_duration_s,
                                       scratch, options.vocabulary)
        rows = [{"index": i, "path": t.file.path} for i, t in enumerate(tasks)]
        dataset = (ray.data.from_items(rows, override_num_blocks=max(1, len(rows)))
                   .map(DecodeRow(options.max_duration_s), compute=TaskPoolStrategy(size=max(1, workers)),
                        num_cpus=0)  # decoding is short: it must not wait for the cores the actors hold
                   .map_batches(IndexActor, fn_constructor_kwargs={"options": engine_options}, batch_size=1,
                                compute=ActorPoolStrategy(size=workers), num_cpus=cpus))
        for row in dataset.iter_rows():
            yield tasks[int(row["index"])], pickle.loads(row["result"])
    finally:
        if started_here:
            ray.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)
