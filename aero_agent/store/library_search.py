"""The store's one search over all its ready sessions: which sessions a query may reach (ids, tags, a voice's
sessions) and the library brought up to date first, taking what loaded sessions' indexes built as is."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from aero_agent.errors import InvalidArgumentError, SessionNotFoundError
from aero_agent.library import LibraryIndex
from aero_agent.persistence import session_files as disk
from aero_agent.persistence.catalog import Catalog
from aero_agent.persistence.layout import session_folder
from aero_agent.results import SearchHit, SessionInfo
from aero_agent.retrieval import Retrieval
from aero_agent.session import AudioSession
from aero_agent.sound_events import event_spans, tag_kind
from aero_agent.transcript import check_event_kind
from aero_agent.topics import Topics


class LibrarySearch:
    """Searches the library of a store's sessions; shares the store's lock, loaded sessions and catalog."""

    def __init__(self, root: Path, retrieval: Retrieval, catalog: Catalog, lock: threading.RLock,
                 loaded: OrderedDict[str, AudioSession]) -> None:
        self.root = root
        self.library = LibraryIndex(root, retrieval)
        self._catalog = catalog
        self._lock = lock
        self._loaded = loaded

    def search(self, query: str, k: int, ready: list[SessionInfo], session_ids: list[str] | None,
               tags: list[str] | None, heard: list[str] | None, event: str | None = None) -> list[SearchHit]:
        """Passages of the ``ready`` sessions ranked for ``query``; only those in ``session_ids``, those tagged
        with one of ``tags``, those in ``heard`` (a voice's sessions) and passages overlapping a sound event of
        kind ``event`` when given. Sessions stored before embeddings existed are indexed here, once; their files
        are then written."""
        if event is not None:
            check_event_kind(event)
        chosen = {i.id for i in ready}
        if session_ids is not None:
            if isinstance(session_ids, str) or not all(isinstance(s, str) for s in session_ids):
                raise InvalidArgumentError("session_ids must be a list of session id strings")
            unknown = sorted(set(session_ids) - chosen)
            if unknown:
                raise SessionNotFoundError(f"unknown or not ready session ids: {', '.join(unknown)}")
            chosen &= set(session_ids)
        with self._lock:
            self.library.refresh([(i.id, i.source, i.tags is not None) for i in ready], self._store_topics,
                                 self._built)
        if tags is not None:
            chosen &= _tagged(ready, tags)
        if heard is not None:
            chosen &= set(heard)
        within = None
        if event is not None:
            within = {i: spans for i in sorted(chosen) if (spans := self._event_spans(i, event))}
            chosen &= set(within)
        return self.library.search(query, k, chosen, heard, within)

    def _event_spans(self, session_id: str, kind: str) -> list[tuple[float, float]]:
        """A ready session's sound events of ``kind`` (from memory when loaded, else from its stored transcript)."""
        with self._lock:
            session = self._loaded.get(session_id)
        if session is not None and session.ready:
            transcript = session.transcribe()
        else:
            transcript = disk.load_transcript(session_folder(self.root, session_id))
        return event_spans(transcript, kind) if transcript is not None else []

    def _built(self, session_id: str) -> tuple[list, Any] | None:
        """What a loaded, ready session's index built (passages and vectors), for the library to take as is."""
        session = self._loaded.get(session_id)
        if session is None or not session.ready:
            return None
        built = session.index.built(session.transcribe().segments)
        session.flush()  # vectors its index computed now are written, so the files match the library
        return built

    def _store_topics(self, session_id: str, found: Topics) -> None:
        """Tags and gist computed by the library for a session stored without them."""
        with self._lock:
            session = self._loaded.get(session_id)
            if session is not None:
                session.set_topics(found)
                return
            folder = session_folder(self.root, session_id)
            info = disk.load_info(folder)
            if info is not None:
                info.tags, info.gist = found.tags, found.gist
                self._catalog.write_info(folder, info.model_dump())


def _tagged(ready: list[SessionInfo], tags: list[str]) -> set[str]:
    """The ready sessions tagged with one of ``tags`` (or holding that kind of sound: music, singing, speech)."""
    if isinstance(tags, str) or not tags or not all(isinstance(t, str) and t.strip() for t in tags):
        raise InvalidArgumentError("tags must be a non-empty list of non-empty strings")
    wanted = {t.strip().lower() for t in tags}
    return {i.id for i in ready if wanted & ({t.lower() for t in i.tags or ()} | {tag_kind(t) for t in i.tags or ()})}
