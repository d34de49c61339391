"""The work on one file, the same in every backend: decode it, open it as a session (transcript, speakers
when asked, passage embeddings, tags), and hand back the session's files for the store's single writer.

An :class:`FileIndexer` is made once per engine process (a pool worker or a Ray actor) and loads the models
once. It builds each session with the store's own opening path, in a private scratch store, so what the
archive stores is exactly what ``SessionStore.open`` stores; the files then travel to the writer as bytes,
so the machines doing the work need no access to the store itself.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aero_agent.archive.plan import Task
from aero_agent.transcription import TranscribeOptions

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass(frozen=True)
class EngineOptions:
    """What each engine process loads and how many cores it may use (None: all of them)."""

    engine: str = "whisper"
    model: str | None = None
    speakers: bool = False
    threads: int | None = None
    max_duration_s: float = 4 * 3600.0
    scratch: str | None = None
    """A folder for the engine processes' private scratch stores, removed by the run when it ends (worker
    processes end without cleaning up); the system's temporary folder when None or absent on this node."""
    vocabulary: tuple[str, ...] = ()
    """The custom vocabulary of every file (the command's terms, then the target store's list)."""


@dataclass(frozen=True)
class Outcome:
    """One file's result: the session's files (name to bytes), or the reason it failed."""

    path: str
    session_id: str | None = None
    duration_s: float = 0.0
    files: dict[str, bytes] | None = None
    error: str | None = None
    folder: str | None = None
    """In-process runs: the finished session's folder, for the store to rename into place (no bytes copied)."""


def limit_threads(threads: int | None) -> None:
    """Cap this process's math threads, before torch is imported (so its pools start at that size) and after."""
    if not threads:
        return
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    import torch

    torch.set_num_threads(threads)


def decode(path: str, max_duration_s: float) -> Any:
    """The file as 16 kHz mono samples (an ``AudioClip``); raises a typed audio error for a bad file."""
    from aero_agent.audio import load_audio

    return load_audio(path, max_duration_s=max_duration_s)


def failure(path: str, exc: BaseException) -> Outcome:
    reason = str(exc) if type(exc).__module__.startswith("aero_agent") else f"{type(exc).__name__}: {exc}"
    return Outcome(path, error=reason)


class FileIndexer:
    """Loads the engine (and the embedder, on first use) once; :meth:`index` turns one file into a session."""

    def __init__(self, options: EngineOptions, engine: Any = None, in_process: bool = False) -> None:
        from aero_agent.engines import load_engine
        from aero_agent.store import SessionStore

        limit_threads(options.threads)
        self.options = options
        self.in_process = in_process  # hand over the session's folder instead of its bytes
        if engine is None:
            tuning: dict[str, Any] = {}
            if options.engine == "whisper" and options.threads:
                # the engine's own batch threads, one core each, within this process's share
                tuning = {"threads": options.threads, "workers": max(1, min(2, options.threads))}
            engine = load_engine(options.engine, options.model, **tuning)
        parent = options.scratch if options.scratch and os.path.isdir(options.scratch) else None
        self._scratch = Path(tempfile.mkdtemp(prefix="aero-index-", dir=parent))
        self.store = SessionStore(self._scratch, engine, max_duration_s=options.max_duration_s)

    def index(self, path: str, clip: Any = None) -> Outcome:
        """Index one file (``clip``: its samples already decoded, as Ray's decoding stage gives them)."""
        for earlier in self.store.loaded_ids():  # published (renamed away) or not: forget it either way
            self.store.close(earlier)
        try:
            if clip is None:
                clip = decode(path, self.options.max_duration_s)
            # speakers in the same pass, as any session finds them (store.open diarizes the decoded samples)
            session = self.store.open(clip.samples, sample_rate=clip.sample_rate, name=path,
                                      speakers=self.options.speakers,
                                      transcription=TranscribeOptions(vocabulary=self.options.vocabulary))
            folder = self.store.root / session.id
            if self.in_process:
                return Outcome(path, session.id, session.info.duration_s, folder=str(folder))
            try:
                files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}
                return Outcome(path, session.id, session.info.duration_s, files)
            finally:
                self.store.close(session.id)
        except Exception as exc:  # one bad file is recorded as failed; the run goes on
            return failure(path, exc)

    def close(self) -> None:
        self.store.shutdown()
        shutil.rmtree(self._scratch, ignore_errors=True)


# ----- a process pool's worker: one indexer per process -------------------------------------------------
_indexer: FileIndexer | None = None


def init_worker(options: EngineOptions) -> None:
    """Pool initializer: threads first, then the models, once per process."""
    global _indexer
    _exit_with_parent()
    limit_threads(options.threads)
    _indexer = FileIndexer(options)


def _exit_with_parent(every_s: float = 1.0) -> None:
    """End this worker soon after the run that started it dies (``kill -9`` included): a pool's workers
    would otherwise go on with their files, holding cores, for a run that can no longer record them."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(1)

    threading.Thread(target=watch, name="aero-parent-watch", daemon=True).start()


def index_in_worker(task: Task) -> Outcome:
    assert _indexer is not None, "init_worker was not run in this process"
    return _indexer.index(task.file.path)
