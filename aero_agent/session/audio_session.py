"""AudioSession: decode and encode a recording once, then transcribe, ask, search and extract over many turns.

The session holds its state and writes what each change changed through the :class:`SessionFiles` the store
gives it (``session.files``): it never calls back into the store. A live session holds a :class:`LiveStream`."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from aero_agent.audio import DEFAULT_MAX_DURATION_S, AudioClip, AudioSource, load_audio
from aero_agent.engines.base import EncodedAudio, EncodeProgress, Engine, ProgressFn
from aero_agent.errors import CapabilityError, EncodingCancelledError, SessionClosedError, SessionNotReadyError
from aero_agent.index import TranscriptIndex
from aero_agent.live import LIVE_SOURCE, LiveOptions, LiveStats, LiveUpdate
from aero_agent.persistence.session_files import Changes, SessionFiles
from aero_agent.results import SearchHit, SessionInfo, Turn, utc_now
from aero_agent.retrieval import HybridRetrieval, Retrieval
from aero_agent.session.checks import check_k, check_query
from aero_agent.session.conversation import Conversation
from aero_agent.session.live_stream import LiveStream, live_encoded
from aero_agent.session.speakers import SpeakerLabels
from aero_agent.speakers.base import DiarizationOptions, Diarizer, requested_diarization
from aero_agent.speakers.labelling import check_can_diarize
from aero_agent.sound_events import event_spans, share_tags
from aero_agent.topics import Topics
from aero_agent.transcript import AudioEvent, Segment, Transcript
from aero_agent.transcription import TranscribeOptions, check_engine_options
from aero_agent.vectors import PassageVectors

PROGRESS_SAVE_S = 2.0  # an encoding's progress is written at most this often
log = logging.getLogger("aero_agent.session")


def new_session_id() -> str:
    """A short random id, safe to use as a folder name."""
    return "s" + secrets.token_hex(6)


class AudioSession(SpeakerLabels, Conversation):
    """One recording, encoded once, with its transcript and conversation history.

    Thread-safe: operations on one session run one at a time. ``retrieval`` is how ``search`` and the
    offline ``ask`` rank passages (BM25 fused with MiniLM embeddings by default); ``vectors`` are passage
    vectors restored from disk. ``files`` is where a stored session writes its changes (None: kept in memory).
    """

    def __init__(self, info: SessionInfo, engine: Engine, encoded: EncodedAudio | None = None,
                 history: Sequence[Turn] = (), reasoner: Any = None, *, retrieval: Retrieval | None = None,
                 vectors: PassageVectors | None = None, diarizer: Diarizer | None = None,
                 transcription: TranscribeOptions | None = None) -> None:
        self.info = info
        self.engine = engine
        self.transcription = transcription or TranscribeOptions(info.language, info.task,
                                                                vocabulary=tuple(info.vocabulary or ()))
        self.encoded = encoded
        self.history: list[Turn] = list(history)
        self.reasoner = reasoner
        self.files: SessionFiles | None = None
        self.diarizer = diarizer  # None: the embedded GE2E diarizer, loaded on first use
        self.diarization: DiarizationOptions | None = None  # speakers to find when the encoding ends
        self.speaker_prints: dict[str, Any] | None = None
        """Voice prints of the speakers of the latest diarization, until a store keeps them (aero_agent.voices)."""
        self.speaker_voices: Callable[[], dict[str, Any]] | None = None
        """Label -> library voice of the recognised speakers (set by a store with voices); names shown on read."""
        self._partial: list[Segment] = []  # an encoding's segments so far
        self.index = TranscriptIndex(retrieval or HybridRetrieval(), vectors)
        self.live: LiveStream | None = None  # set on a live session
        self._lock = threading.RLock()
        self._cancel = threading.Event()
        self._interrupted: str | None = None
        self.finished = threading.Event()  # set when encoding ends, ready or failed
        if info.status not in ("encoding", "live"):
            self.finished.set()

    @classmethod
    def open(cls, source: AudioSource, engine: Engine | None = None, progress: ProgressFn | None = None,
             reasoner: Any = None, *, sample_rate: int | None = None,
             max_duration_s: float = DEFAULT_MAX_DURATION_S, max_bytes: int | None = None,
             retrieval: Retrieval | None = None, speakers: bool = False, num_speakers: int | None = None,
             min_speakers: int | None = None, max_speakers: int | None = None,
             diarizer: Diarizer | None = None, transcription: TranscribeOptions | None = None) -> "AudioSession":
        """Decode ``source`` and encode it once with ``engine`` (the embedded Whisper engine by default), in the
        language and task of ``transcription`` (``TranscribeOptions(language="auto", task="translate")``). With
        ``speakers=True`` (or any count) the same pass also finds who speaks when: every segment gets a speaker,
        split where the speaker changes. ``num_speakers`` fixes the count; ``min_speakers`` and ``max_speakers``
        bound the automatic one. Bad counts and an engine that cannot raise before decoding."""
        wanted = requested_diarization(speakers, num_speakers, min_speakers, max_speakers)
        if wanted is not None or transcription is not None:
            engine = engine or _default_engine()
        if transcription is not None:  # refused before the audio is decoded
            check_engine_options(engine, transcription)
        if wanted is not None:
            check_can_diarize(engine)
        clip = load_audio(source, sample_rate=sample_rate, max_duration_s=max_duration_s, max_bytes=max_bytes)
        session = cls.pending(clip, engine, reasoner=reasoner, retrieval=retrieval, transcription=transcription)
        session.diarizer, session.diarization = diarizer, wanted
        session.run_encoding(clip, progress)
        return session

    @classmethod
    def pending(cls, clip: AudioClip, engine: Engine | None = None, reasoner: Any = None,
                session_id: str | None = None, *, retrieval: Retrieval | None = None,
                transcription: TranscribeOptions | None = None) -> "AudioSession":
        """A session for ``clip`` that has not been encoded yet (status ``encoding``); ``transcription`` is
        checked against the engine here, so a request it cannot do fails before any work."""
        if engine is None:
            engine = _default_engine()
        transcription = transcription or TranscribeOptions()
        check_engine_options(engine, transcription)
        info = SessionInfo(id=session_id or new_session_id(), source=clip.source, duration_s=round(clip.duration_s, 3),
                           engine=engine.name, model_id=engine.model_id, language=transcription.language,
                           task=transcription.task, vocabulary=list(transcription.vocabulary) or None)
        try:
            stat = Path(clip.source).stat()
            info.source_size, info.source_mtime = stat.st_size, stat.st_mtime
        except (OSError, ValueError):
            pass  # bytes or arrays have no file behind them
        return cls(info, engine, reasoner=reasoner, retrieval=retrieval, transcription=transcription)

    @classmethod
    def live(cls, engine: Engine | None = None, options: LiveOptions | None = None, reasoner: Any = None,
             session_id: str | None = None, source: str = LIVE_SOURCE,
             transcription: TranscribeOptions | None = None) -> "AudioSession":
        """A session on audio that is still arriving: status ``live`` until :meth:`finish`, then ``ready``.
        :meth:`feed` takes 16 kHz mono samples; :meth:`transcribe` returns the final segments so far with the
        tail that may still change in ``Transcript.partial`` (``complete=False``); search and ask read the
        final segments only. The engine must transcribe with word times (the embedded Whisper engine does)."""
        engine = engine or _default_engine()
        transcription = transcription or TranscribeOptions()
        stream = LiveStream(engine, options, transcription)
        check_engine_options(engine, transcription)
        info = SessionInfo(id=session_id or new_session_id(), source=source, duration_s=0.0, engine=engine.name,
                           model_id=engine.model_id, status="live", language=transcription.language,
                           task=transcription.task, vocabulary=list(transcription.vocabulary) or None)
        session = cls(info, engine, reasoner=reasoner, transcription=transcription)
        session.live = stream
        return session

    @property
    def live_options(self) -> LiveOptions | None:
        """The live stream's options (window, step, pause, anchor...); None for a recording."""
        return None if self.live is None else self.live.options

    @property
    def live_stats(self) -> LiveStats | None:
        """How a live stream keeps up (step, decode time, ``behind_s``, ``lagging``); None for a recording."""
        return None if self.live is None else self.live.stats

    def _stream(self) -> LiveStream:
        if self.live is None:
            raise SessionClosedError(f"session {self.id} was opened on a recording, not live audio")
        return self.live

    def _check_open(self) -> None:
        if self.info.status != "live" or self._cancel.is_set():
            raise SessionClosedError(f"live session {self.id} has finished; it takes no more audio "
                                     "(start a new live session)")

    def feed(self, samples: Any) -> LiveUpdate:
        """Append 16 kHz mono samples (float32 in [-1, 1] or int16) to a live session and decode what is due.

        Decoding runs here, in the caller's thread, outside the read lock: transcribe/search/ask answer
        meanwhile. A second writer while one is feeding gets :class:`SessionBusyError`; bad samples raise
        before anything changes, so the final text so far is always kept.
        """
        return self._stream().feed(samples, self.id, self._check_open, self._take)

    def _take(self, update: LiveUpdate) -> None:
        live = self._stream()
        with self._lock:
            live.take(update)
            self.info.duration_s = live.duration_s
            self.info.language = live.language or self.info.language  # detected on the first decode
            self.info.updated = utc_now()
        if update.final:  # final segments are saved as they come
            self._save(transcript=live.transcript(complete=False).model_copy(update={"partial": []}))

    def finish(self) -> Transcript:
        """End a live session: decode the rest, make every word final; the session becomes ``ready``.

        Finishing twice returns the same transcript."""
        self._stream().finish(self.id, lambda: self.info.status == "live", self._end_stream)
        return self.transcribe()

    def _end_stream(self, update: LiveUpdate) -> None:
        live = self._stream()
        self._take(update)
        with self._lock:
            self.encoded = live_encoded(self.engine.name, self.engine.model_id, live.transcript(complete=True),
                                        live.stats)
            live.partial = []
            self.info.status, self.info.progress = "ready", 1.0
            self.info.updated = utc_now()
        self._guarded_indexing(self.index_transcript)  # passages, tags and gist, as for a recording
        self._save(encoded=True, transcript=True, vectors=True)
        self.finished.set()

    def cancel(self, interrupted: str | None = None) -> None:
        """Ask a running encoding to stop at its next progress report; ``interrupted``: the reason it is recorded
        with, as a stop of the process (the session can then be opened again)."""
        self._interrupted = interrupted
        self._cancel.set()

    def refuse(self, reason: str) -> None:
        """Mark an encoded session failed with ``reason`` (the store cannot keep it): its files but the info go."""
        with self._lock:
            self.encoded = None
            self.info.status, self.info.error = "failed", reason
        if self.files is not None:
            self.files.clear()
        self._save()

    def run_encoding(self, clip: AudioClip, progress: ProgressFn | None = None) -> None:
        """The one expensive pass. Marks the session ``ready``, or ``failed`` with the reason and re-raises;
        then writes what it made (engine state, transcript, vectors, info) once."""
        saved = {"t": time.monotonic()}

        def report(p: EncodeProgress) -> None:
            if self._cancel.is_set():
                raise EncodingCancelledError(f"session {self.id} was closed while encoding")
            with self._lock:
                self._partial = list(p.segments)
                self.info.windows_done, self.info.windows_total = p.done, p.total
                self.info.progress = round(p.fraction, 4)
            self._guarded_indexing(self.index.prepare_settled, p.segments)
            if time.monotonic() - saved["t"] > PROGRESS_SAVE_S:
                saved["t"] = time.monotonic()
                self._save()
            if progress is not None:
                progress(p)

        try:
            encoded = self._encode(clip, report)
        except BaseException as exc:
            with self._lock:
                self.info.status, self.info.error = "failed", f"{type(exc).__name__}: {exc}"
                if isinstance(exc, EncodingCancelledError) and self._interrupted:
                    self.info.error, self.info.interrupted = self._interrupted, True
                self.info.updated = utc_now()
            self._save()
            self.finished.set()
            raise
        self._save(encoded=True, transcript=True, history=True, vectors=True)
        self.finished.set()

    def _encode(self, clip: AudioClip, report: ProgressFn) -> EncodedAudio:
        if self.transcription.is_default:  # engines without language options are called as before
            encoded = self.engine.encode(clip, progress=report)
        else:
            encoded = self.engine.encode(clip, progress=report, options=self.transcription)  # type: ignore[call-arg]
        applied = self._apply_speakers(encoded, clip, None)
        with self._lock:
            self._apply_speakers(encoded, clip, applied)  # asked for meanwhile (a reused session)
            self.encoded = encoded
            self.info.status, self.info.progress, self.info.error = "ready", 1.0, None
            if encoded.transcript is not None:
                self.info.language = encoded.transcript.language
                self.info.language_probability = encoded.transcript.language_probability
                self.info.task = encoded.transcript.task
            self.info.updated = utc_now()
            if encoded.transcript is not None:
                self._guarded_indexing(self.index_transcript)
        return encoded

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def ready(self) -> bool:
        return self.info.status == "ready"

    def retranscribe(self, start_s: float | None = None, end_s: float | None = None, vocabulary: Any = None, *,
                     audio: AudioSource | None = None) -> Transcript:
        """Decode the stretch between ``start_s`` and ``end_s`` (all by default) again with ``vocabulary`` added
        to the session's own, which every later decode of the session then uses too; returns that stretch.
        The audio is read again as for :meth:`diarize`."""
        from aero_agent.retranscription import retranscribe_range
        from aero_agent.session.speakers import source_clip
        from aero_agent.vocabulary import Vocabulary

        transcription = self.transcription.with_vocabulary(Vocabulary.of(vocabulary))
        check_engine_options(self.engine, transcription)
        with self._lock:
            encoded = self._require_ready("re-transcription")
            clip = source_clip(self.info, audio, None)
            encoded.transcript = retranscribe_range(self.transcribe(), clip, self.engine, transcription,
                                                    start_s, end_s)
            self.transcription, self.info.vocabulary = transcription, list(transcription.vocabulary) or None
            self.info.updated = utc_now()
            self._guarded_indexing(self.index_transcript)
        self._save(transcript=True, vectors=True)
        return self.transcribe(start_s, end_s)

    def _require_ready(self, what: str) -> EncodedAudio:
        if self.info.status == "failed":
            raise SessionNotReadyError(f"session {self.id} failed to encode ({self.info.error}); open the file again")
        if self.info.status == "live":
            raise SessionNotReadyError(f"session {self.id} is live; {what} needs the whole recording: call "
                                       "finish first, or use transcribe/search on what is final so far")
        if self.info.status != "ready" or self.encoded is None:
            raise SessionNotReadyError(
                f"session {self.id} is still encoding ({self.info.progress:.0%} done); {what} needs the whole "
                "recording, try again when status is ready")
        return self.encoded

    def transcribe(self, start_s: float | None = None, end_s: float | None = None) -> Transcript:
        """The timed transcript, optionally only between ``start_s`` and ``end_s`` seconds.

        While the session is still encoding this returns the segments finished so far, with ``complete=False``.
        While it is live, ``segments`` are the final ones and ``partial`` the tail that may still change.
        """
        with self._lock:
            if self.info.status == "live" and self.live is not None:
                return self.live.transcript(complete=False).between(start_s, end_s)
            if self.info.status == "encoding":
                partial = Transcript(segments=list(self._partial), duration_s=self.info.duration_s, complete=False)
                return partial.between(start_s, end_s)
            encoded = self._require_ready("transcription")
            if encoded.transcript is None:
                if not self.engine.capabilities.transcribe:
                    raise CapabilityError(f"the {self.engine.name} engine cannot transcribe")
                encoded.transcript = self.engine.transcribe(encoded)
                self._save(transcript=True)
            return self._named(encoded.transcript.between(start_s, end_s))

    def _named(self, transcript: Transcript) -> Transcript:
        """Recognised speakers shown by their voice names (resolved now, so a rename shows at once)."""
        if self.speaker_voices is None or not transcript.diarized:
            return transcript
        from aero_agent.voices.naming import named

        return named(transcript, self.speaker_voices())

    def events(self, kind: str | None = None, start_s: float | None = None,
               end_s: float | None = None) -> list[AudioEvent]:
        """Sound events heard so far (music, singing, other sound), of one ``kind`` or all, in a time range."""
        return self.transcribe().events_of(kind, start_s, end_s)

    def search(self, query: str, k: int = 5, *, speaker: str | None = None, start_s: float | None = None,
               end_s: float | None = None, event: str | None = None) -> list[SearchHit]:
        """Passages (segments and windows of adjacent segments) ranked for ``query``, best first, each with its
        true start and end; only those of ``speaker``, overlapping ``start_s``-``end_s`` and overlapping a sound
        event of kind ``event`` (music, singing, sound: what is said over music) when given.

        While encoding, the part encoded so far is searched.
        """
        query, k = check_query(query), check_k(k)
        with self._lock:
            transcript = self.transcribe()
            if start_s is not None or end_s is not None:
                transcript.between(start_s, end_s)  # raises for a range outside the audio
            if speaker is not None:
                transcript.of_speaker(speaker)  # raises for a label the recording lacks
            within = event_spans(transcript, event) if event is not None else None  # raises for an unknown kind
            return self.index.search(transcript.segments, query, k, speaker=speaker, start_s=start_s, end_s=end_s,
                                     within=within)

    def index_transcript(self) -> None:
        """Embed every passage of the final transcript (once) and set the session's tags and gist."""
        with self._lock:
            transcript = self.transcribe()
            found = self.index.topics(transcript.segments)
            if found is not None:
                self.info.tags, self.info.gist = found.tags + share_tags(transcript), found.gist

    def set_topics(self, found: Topics) -> None:
        """Tags and gist found for the session elsewhere (the library indexing a session stored without them)."""
        with self._lock:
            self.info.tags, self.info.gist = found.tags, found.gist
        self._save()

    def _guarded_indexing(self, step: Callable[..., None], *args: Any) -> None:
        """Run an indexing step; a failure there (missing embedder weights...) must not fail the encoding,
        search then indexes lazily and reports the problem itself."""
        try:
            step(*args)
        except Exception as exc:
            log.warning("session %s: indexing for search failed (%s: %s); it will be retried on search",
                        self.id, type(exc).__name__, exc)

    def _save(self, *, encoded: bool = False, transcript: Transcript | bool = False, history: bool = False,
              volatile: bool = False, vectors: bool = False) -> None:
        """Write what changed (info always) through :attr:`files`, when the session is stored."""
        if self.files is None:
            return
        with self._lock:
            state = self.encoded
            text = transcript if isinstance(transcript, Transcript) else (
                state.transcript if transcript and state is not None else None)
            changes = Changes(info=self.info.model_dump(), history=list(self.history) if history else None,
                              transcript=text, encoded=state if encoded and self.ready else None,
                              volatile=state if volatile and self.ready else None,
                              vectors=self.index.vectors if vectors and self.ready else None)
        self.files.write(changes)
        if self.speaker_prints is not None and self.ready:
            from aero_agent.voices.store_hooks import keep_prints

            keep_prints(self.files.folder.parent, self)

    def flush(self) -> None:
        """Write what is computed but not yet saved (passage vectors a search embedded)."""
        if self.ready and self.index.vectors is not None and self.index.vectors.dirty:
            self._save(vectors=True)

    def save_all(self) -> None:
        """Write every file of a ready session again (engine tensors included)."""
        if self.ready:
            self._save(encoded=True, transcript=True, history=True, vectors=True)


def _default_engine() -> Engine:
    from aero_agent.engines import default_engine

    return default_engine()
