"""SessionStore: many sessions by id, persisted to disk, kept in memory under a cap, safe across threads."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from aero_agent.persistence import session_files as disk
from aero_agent.persistence.session_files import SessionFiles
from aero_agent.persistence.catalog import Catalog, session_stamps
from aero_agent.persistence.layout import is_session_id, session_folder, staging_folder
from aero_agent.audio import DEFAULT_MAX_DURATION_S, AudioSource, load_audio
from aero_agent.engines.base import Engine, ProgressFn
from aero_agent.errors import InvalidArgumentError, SessionNotFoundError, StoreFullError
from aero_agent.transcription import AUTO, TranscribeOptions, check_engine_options
from aero_agent.vocabulary import read_store_vocabulary
from aero_agent.live import LiveOptions
from aero_agent.results import SearchHit, SessionInfo
from aero_agent.store.library_search import LibrarySearch
from aero_agent.store.recovery import INTERRUPTED, recover_interrupted
from aero_agent.store.retention import StoreLimits, measure, over_memory, plan_removals
from aero_agent.retrieval import HybridRetrieval, Retrieval
from aero_agent.session import AudioSession, check_k, check_query
from aero_agent.speakers.base import DiarizationOptions, requested_diarization
from aero_agent.speakers.labelling import check_can_diarize
from aero_agent.voices import store_hooks as voice_hooks

if TYPE_CHECKING:
    from aero_agent.voices import Voices



class Opened(NamedTuple):
    """What :meth:`SessionStore.open_audio` gives: the session, and whether an open one was reused."""

    session: AudioSession
    reused: bool


class SessionStore:
    """Holds sessions under ``root/<id>/``; reloads them after a restart.

    At most ``max_loaded`` sessions (and ``max_memory_bytes`` of engine tensors, when set) stay in
    memory; the least recently used ones are written to disk and dropped.

    ``max_sessions`` and ``max_store_bytes`` bound what the store keeps at all (on disk): to make room
    the least recently used finished sessions are deleted; a session still encoding is never deleted,
    and a request that cannot fit raises :class:`~aero_agent.errors.StoreFullError`.
    """

    def __init__(self, root: str | Path, engine: Engine | None = None, reasoner: Any = None, *,
                 max_loaded: int = 8, max_memory_bytes: int | None = None,
                 max_duration_s: float = DEFAULT_MAX_DURATION_S, max_bytes: int | None = None,
                 max_sessions: int | None = None, max_store_bytes: int | None = None,
                 retrieval: Retrieval | None = None) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.reasoner = reasoner
        self.max_loaded = max(1, max_loaded)
        self.max_memory_bytes = max_memory_bytes
        self.max_duration_s = max_duration_s
        self.max_bytes = max_bytes
        self.limits = StoreLimits(max_sessions, max_store_bytes)
        self._last_used: dict[str, float] = {}
        self._engine = engine
        self._loaded: OrderedDict[str, AudioSession] = OrderedDict()
        self._jobs: dict[str, Future[None]] = {}
        self._lock = threading.RLock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aero-encode")
        self._catalog = Catalog(self.root)  # metadata of every session, so listing reads no folder
        self._catalog.reconcile(session_stamps(self.root), lambda sid: disk.read_info(session_folder(self.root, sid)))
        self.interrupted = recover_interrupted(self.root, self._catalog)
        self.retrieval = retrieval or HybridRetrieval()  # how sessions and the library rank passages
        self._search = LibrarySearch(self.root, self.retrieval, self._catalog, self._lock, self._loaded)

    @property
    def engine(self) -> Engine:
        """The store's default engine (the embedded Whisper engine unless one was given)."""
        if self._engine is None:  # loaded outside the store lock: status() and list() stay responsive
            from aero_agent.engines import default_engine

            self._engine = default_engine()
        return self._engine

    def _engine_for(self, name: str, model_id: str) -> Engine:
        engine = self.engine
        if engine.name == name and engine.model_id == model_id:
            return engine
        from aero_agent.engines import load_engine

        return load_engine(name, model_id)

    # ----- opening ------------------------------------------------------------------
    def open(self, source: AudioSource, engine: Engine | None = None, progress: ProgressFn | None = None, *,
             wait: bool = True, sample_rate: int | None = None, name: str | None = None,
             reuse: bool = False, speakers: bool = False, num_speakers: int | None = None,
             min_speakers: int | None = None, max_speakers: int | None = None,
             transcription: TranscribeOptions | None = None) -> AudioSession:
        """Decode ``source`` now (bad audio raises here), then encode it: inline, or in the background
        when ``wait`` is False (the returned session has status ``encoding`` until it is done).
        ``transcription`` sets the language and task (checked against the engine before anything is decoded).

        With ``speakers`` (or a speaker count) the encoding also finds who speaks when (see
        :meth:`AudioSession.open`). With ``reuse``, a ready or encoding session of the same unchanged file,
        engine, language and task is returned instead, diarized now (ready) or when its encoding ends, if it
        is not yet (:meth:`open_audio` says which happened)."""
        return self.open_audio(source, engine, progress, wait=wait, sample_rate=sample_rate, name=name, reuse=reuse,
                               speakers=speakers, num_speakers=num_speakers, min_speakers=min_speakers,
                               max_speakers=max_speakers, transcription=transcription).session

    def open_audio(self, source: AudioSource, engine: Engine | None = None, progress: ProgressFn | None = None, *,
                   wait: bool = True, sample_rate: int | None = None, name: str | None = None,
                   reuse: bool = False, speakers: bool = False, num_speakers: int | None = None,
                   min_speakers: int | None = None, max_speakers: int | None = None,
                   transcription: TranscribeOptions | None = None,
                   check_new: Callable[[], None] | None = None) -> Opened:
        """:meth:`open`, saying whether an open session of the file was reused: the one open path of the skins.
        ``check_new`` may refuse a new session (a quota) before anything is decoded. A new recording goes one way:
        decode, then (:meth:`_encode`) encode, transcript, speakers, passages and vectors, topics, saved once."""
        transcription = (transcription or TranscribeOptions()).with_vocabulary(read_store_vocabulary(self.root))
        engine = engine or self.engine
        check_engine_options(engine, transcription)
        wanted = requested_diarization(speakers, num_speakers, min_speakers, max_speakers)
        if wanted is not None:
            check_can_diarize(engine)
        if reuse and isinstance(source, (str, os.PathLike)):
            found = self._match(source, engine, transcription)
            if found is not None:
                return Opened(self._reused(self.get(found.id), wanted), True)
        if check_new is not None:
            check_new()
        if isinstance(source, (str, os.PathLike)):
            source = Path(source).expanduser().resolve()
        clip = load_audio(source, sample_rate=sample_rate, max_duration_s=self.max_duration_s,
                          max_bytes=self.max_bytes, name=name)
        session = AudioSession.pending(clip, engine, reasoner=self._reasoner_for(engine), retrieval=self.retrieval,
                                       transcription=transcription)
        session.diarization = wanted
        # bytes are checked when the encoding is done and its size known, so a refusal removes nothing
        self._admit(session, StoreLimits(max_sessions=self.limits.max_sessions))
        if wait:
            self._encode(session, clip, progress, raising=True)
        else:
            with self._lock:
                self._jobs[session.id] = self._pool.submit(self._encode, session, clip, progress, False)
        return Opened(session, False)

    def _admit(self, session: AudioSession, limits: StoreLimits | None = None) -> None:
        """Give a new session its folder (its first info written, its owner lock taken) and a place in memory;
        room is made and taken in one step, so two opens cannot both take the last place."""
        files = SessionFiles(self._folder(session.id), self._catalog)
        with self._lock:
            if limits is not None:
                self._make_room(limits, new_sessions=1)
            files.create(session.info.model_dump())
            session.files = files  # turns asked while encoding are saved too
            voice_hooks.attach(self, session)
            self._loaded[session.id] = session
            self._touch(session.id)

    def _encode(self, session: AudioSession, clip: Any, progress: ProgressFn | None, raising: bool) -> None:
        """The encoding job: the session encodes and saves itself; then the store makes room for it (or
        refuses it, when it cannot fit) and evicts what is over its memory caps."""
        try:
            session.run_encoding(clip, progress)
            with self._lock:
                self._make_room(self.limits, keep={session.id})
        except StoreFullError as exc:
            session.refuse(str(exc))  # it does not fit: only its info is kept, marked failed with the reason
            if raising:
                raise
            return
        except Exception:
            if raising:
                raise
            return
        finally:
            if session.files is not None and not session.ready:
                session.files.release()
        self._evict()

    @staticmethod
    def _reused(session: AudioSession, wanted: DiarizationOptions | None) -> AudioSession:
        """An open session asked for again, with speakers when they are asked for and not there yet."""
        if wanted is not None:
            session.ensure_speakers(True, wanted.num_speakers, wanted.min_speakers, wanted.max_speakers)
        return session

    @property
    def voices(self) -> "Voices":
        """The store's library of named voices (enroll, name_speaker, identify, rename, forget, list)."""
        return voice_hooks.store_voices(self)

    # ----- library search ----------------------------------------------------------
    def search(self, query: str, k: int = 5, session_ids: list[str] | None = None,
               tags: list[str] | None = None, speaker: str | None = None, event: str | None = None) -> list[SearchHit]:
        """Passages of every ready session ranked for ``query`` (hits carry ``session_id`` and ``source``);
        only the sessions in ``session_ids`` and those tagged with one of ``tags`` when given; with ``event``
        (music, singing, sound) only passages overlapping a sound event of that kind.

        Sessions stored before embeddings existed are indexed here, once; their files are then written.
        ``speaker``, a voice name, keeps the passages of that voice in every session it was heard in.
        """
        query, k = check_query(query), check_k(k)
        heard = self.voices.heard_in(speaker) if speaker is not None else None
        ready = [i for i in self.list() if i.status == "ready"]
        return voice_hooks.named_hits(self, self._search.search(query, k, ready, session_ids, tags, heard, event))

    def open_live(self, engine: Engine | None = None, options: LiveOptions | None = None,
                  transcription: TranscribeOptions | None = None) -> AudioSession:
        """A live session (see :meth:`AudioSession.live`) kept in this store: its final segments are saved as
        they come, so a crash loses at most the partial tail; after ``finish()`` it is an ordinary session.
        A live session is never evicted from memory."""
        engine = engine or self.engine
        transcription = (transcription or TranscribeOptions()).with_vocabulary(read_store_vocabulary(self.root))
        session = AudioSession.live(engine, options, reasoner=self._reasoner_for(engine), transcription=transcription)
        self._admit(session)
        return session

    def _reasoner_for(self, engine: Engine) -> Any:
        return None if engine.capabilities.answer else self.reasoner

    # ----- lookup -------------------------------------------------------------------
    def _folder(self, session_id: str) -> Path:
        if not is_session_id(session_id):
            raise SessionNotFoundError(f"unknown session id {session_id!r}")
        return self.root / session_id

    def get(self, session_id: str) -> AudioSession:
        """The session with this id, loaded from disk if it is not in memory."""
        folder = self._folder(session_id)
        with self._lock:
            if session_id in self._loaded:
                self._loaded.move_to_end(session_id)
                self._touch(session_id)
                return self._loaded[session_id]
            if not (folder / disk.INFO).exists():
                raise SessionNotFoundError(f"unknown session id {session_id!r}")
            info = disk.load_info(folder)
            assert info is not None
            encoded = disk.load_encoded(folder) if info.status == "ready" else None
            engine = self._engine_for(info.engine, info.model_id)
            vectors = disk.load_vectors(folder) if info.status == "ready" else None
            session = AudioSession(info, engine, encoded, disk.load_history(folder), reasoner=self._reasoner_for(engine),
                                   retrieval=self.retrieval, vectors=vectors)
            session.files = SessionFiles(folder, self._catalog)
            voice_hooks.attach(self, session)
            self._loaded[session_id] = session
            self._touch(session_id)
            self._evict()
            return session

    def status(self, session_id: str) -> SessionInfo:
        """Status and progress, without loading the session's tensors."""
        folder = self._folder(session_id)
        with self._lock:
            if session_id in self._loaded:
                return self._loaded[session_id].info.model_copy()
        if not (folder / disk.INFO).exists():
            raise SessionNotFoundError(f"unknown session id {session_id!r}")
        return SessionInfo.model_validate_json((folder / disk.INFO).read_text("utf-8"))

    def wait(self, session_id: str, timeout: float | None = None) -> SessionInfo:
        """Block until the session is ready or failed (encoding in the background or in another thread),
        or ``timeout`` seconds pass; return its status."""
        self._folder(session_id)
        with self._lock:
            session = self._loaded.get(session_id)
            job = self._jobs.get(session_id)
        if session is not None:
            session.finished.wait(timeout)
            if job is not None and session.finished.is_set():
                try:  # let the job finish saving before reporting
                    job.result(timeout=5)
                except Exception:
                    pass
        return self.status(session_id)

    def list(self) -> list[SessionInfo]:
        """Every session in the store, newest first (from the catalog, with this process's loaded sessions
        as they are in memory)."""
        with self._lock:
            loaded = {sid: s.info.model_copy() for sid, s in self._loaded.items()}
        infos = []
        for row in self._catalog.infos():
            try:
                infos.append(loaded.pop(row["id"], None) or SessionInfo.model_validate(row))
            except ValueError:
                continue
        infos += [i for i in loaded.values() if (self.root / i.id).exists()]
        return sorted(infos, key=lambda i: i.created, reverse=True)

    def find(self, source: str | Path, engine: Engine | None = None,
             transcription: TranscribeOptions | None = None) -> SessionInfo | None:
        """The newest ready or encoding session of this unchanged file (same size and mtime) and engine, and of
        the task and language asked (any language when none or ``auto`` was asked)."""
        asked = (transcription or TranscribeOptions()).with_vocabulary(read_store_vocabulary(self.root))
        return self._match(source, engine or self.engine, asked)

    def _match(self, source: str | Path, engine: Engine, asked: TranscribeOptions) -> SessionInfo | None:
        """:meth:`find` for options that already hold the store's vocabulary."""
        try:
            path = Path(source).expanduser().resolve()
            stat = path.stat()
        except OSError:
            return None
        for row in self._catalog.by_source(str(path)):
            info = self.status(row["id"]) if row["id"] in self.loaded_ids() else SessionInfo.model_validate(row)
            if (info.status in ("ready", "encoding") and Path(info.source) == path and info.engine == engine.name
                    and info.model_id == engine.model_id and info.source_size == stat.st_size
                    and info.source_mtime == stat.st_mtime and info.task == asked.task
                    and asked.language in (None, AUTO, info.language)
                    and set(asked.vocabulary) <= set(info.vocabulary or ())):
                return info
        return None

    def close(self, session_id: str) -> bool:
        """Forget a session and delete its files (stopping its encoding). Returns True if it existed."""
        folder = self._folder(session_id)
        with self._lock:
            job = self._jobs.pop(session_id, None)
            if job is not None and not job.done():
                job.cancel()
            session = self._loaded.pop(session_id, None)
            if session is not None:
                session.cancel()
                if session.files is not None:
                    session.files.release()
            existed = session is not None or folder.exists()
            self._last_used.pop(session_id, None)
            self._catalog.remove(session_id)
            if folder.exists():
                shutil.rmtree(folder, ignore_errors=True)
            self._search.library.drop(session_id)
            voice_hooks.forget_session(self, session_id)
            if not existed:
                raise SessionNotFoundError(f"unknown session id {session_id!r}")
            return True

    def adopt(self, files: dict[str, bytes]) -> SessionInfo:
        """Publish a finished session made elsewhere (an indexing worker, another machine) from its files
        (name to bytes, ``info.json`` among them): they are written into a staging folder, which is renamed
        into the store in one step, so a reader or a crash sees the whole session or none of it."""
        if disk.INFO not in files or any("/" in name or name.startswith(".") for name in files):
            raise InvalidArgumentError("a session's files need an info.json and plain file names")
        info = SessionInfo.model_validate_json(files[disk.INFO])
        staging = staging_folder(self.root, info.id)
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        for name, data in files.items():
            disk.atomic_write(staging / name, data)
        return self.publish(staging)

    def publish(self, folder: Path) -> SessionInfo:
        """Rename a finished session's ``folder`` (on the store's disk: its staging or an in-process run's
        scratch) into the store in one step; a reader or a crash sees the whole session or none of it."""
        info = disk.load_info(folder)
        if info is None:
            raise InvalidArgumentError(f"{folder} holds no session (no info.json)")
        final = self._folder(info.id)
        with self._lock:
            if final.exists():
                shutil.rmtree(folder, ignore_errors=True)
                raise InvalidArgumentError(f"session {info.id} is already in the store")
            os.rename(folder, final)
            self._catalog.index(final, info.model_dump())
        return info

    def save(self, session_id: str) -> None:
        """Write everything of a loaded session, engine tensors included."""
        with self._lock:
            session = self._loaded.get(session_id)
        if session is not None:
            session.save_all()

    def _evict(self) -> None:
        """Drop the least recently used ready sessions from memory while over ``max_loaded`` or
        ``max_memory_bytes`` (what they computed and did not save yet is written first)."""
        with self._lock:
            for session_id in list(self._loaded):
                if not over_memory(list(self._loaded.values()), self.max_loaded, self.max_memory_bytes):
                    break
                session = self._loaded[session_id]
                if session.ready:
                    session.flush()
                    del self._loaded[session_id]

    def _touch(self, session_id: str) -> None:
        self._last_used[session_id] = time.time()

    def _make_room(self, limits: StoreLimits, new_sessions: int = 0,
                   keep: frozenset[str] | set[str] = frozenset()) -> None:
        """Delete least recently used finished sessions until the store fits ``limits`` (call under the lock)."""
        if not limits.bounded:
            return
        stored = measure(self.root, self.status, self._last_used)
        for session_id in plan_removals(stored, limits, new_sessions=new_sessions, keep=keep):
            self.close(session_id)

    def loaded_ids(self) -> list[str]:
        """Ids of the sessions now in memory, least recently used first."""
        with self._lock:
            return list(self._loaded)

    def shutdown(self, wait: bool = True) -> None:
        """Save loaded sessions; with ``wait`` finish background encodings first, else cancel them
        (a cancelled session is marked failed and can be opened again)."""
        if not wait:
            with self._lock:
                for session in self._loaded.values():
                    if session.info.status == "encoding":
                        session.cancel(INTERRUPTED)  # reported like a killed process on the next start
        self._pool.shutdown(wait=True, cancel_futures=not wait)
        with self._lock:
            live = [s for s in self._loaded.values() if s.info.status == "live"]
        for session in live:  # keep what was said
            session.finish()
        with self._lock:
            for session in self._loaded.values():
                session.flush()

