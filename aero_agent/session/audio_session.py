"""AudioSession: decode and encode a recording once, then transcribe, ask, search and extract over many turns."""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path
import threading
from typing import Any, Callable, Sequence



from aero_agent.audio import DEFAULT_MAX_DURATION_S, AudioClip, AudioSource, load_audio
from aero_agent.engines.base import EncodedAudio, EncodeProgress, Engine, ProgressFn
from aero_agent.errors import (
    CapabilityError,
    SourceChangedError,
    EncodingCancelledError,
    SessionBusyError,
    SessionClosedError,
    ExtractionError,
    InvalidArgumentError,
    SessionNotReadyError,
)
from aero_agent.transcription import TranscribeOptions, check_engine_options
from aero_agent.live import LIVE_SOURCE, LiveOptions, LiveStats, LiveUpdate, OnlineProcessor
from aero_agent.reasoning import reasoner_answer, reasoner_extract
from aero_agent.speakers.base import DiarizationOptions, Diarizer, requested_diarization
from aero_agent.render import evidence_lines
from aero_agent.results import Answer, Extraction, SearchHit, SessionInfo, Status, Turn, utc_now
from aero_agent.index import TranscriptIndex
from aero_agent.retrieval import HybridRetrieval, Retrieval, evidence_segments
from aero_agent.schemas import SchemaLike, as_schema
from aero_agent.session.checks import check_k, check_query, check_text
from aero_agent.speakers.labelling import check_can_diarize, label_transcript
from aero_agent.transcript import Segment, Transcript
from aero_agent.vectors import PassageVectors

DESCRIBE_PROMPT = (
    "Describe the audio beyond its words: background sounds, music, the number of speakers, "
    "and each speaker's tone and emotion, with approximate times."
)
EVIDENCE_HITS = 3
log = logging.getLogger("aero_agent.session")

LIVE_FINISH_WAIT_S = 600.0  # finish() waits this long for a feed in flight


def new_session_id() -> str:
    """A short random id, safe to use as a folder name."""
    return "s" + secrets.token_hex(6)


class AudioSession:
    """One recording, encoded once, with its transcript and conversation history.

    Thread-safe: operations on one session run one at a time. ``retrieval`` is how ``search`` and the
    offline ``ask`` rank passages (BM25 fused with MiniLM embeddings by default); ``vectors`` are passage
    vectors restored from disk.
    """

    def __init__(self, info: SessionInfo, engine: Engine, encoded: EncodedAudio | None = None,
                 history: Sequence[Turn] = (), reasoner: Any = None, *, retrieval: Retrieval | None = None,
                 vectors: PassageVectors | None = None, diarizer: Diarizer | None = None,
                 transcription: TranscribeOptions | None = None) -> None:
        self.info = info
        self.engine = engine
        self.transcription = transcription or TranscribeOptions(info.language, info.task, tuple(info.vocabulary or ()))
        self.encoded = encoded
        self.history: list[Turn] = list(history)
        self.reasoner = reasoner
        self.on_change: Callable[["AudioSession"], None] | None = None
        self.diarizer = diarizer  # None: the embedded GE2E diarizer, loaded on first use
        self.diarization: DiarizationOptions | None = None
        """Speakers to find when the encoding ends (``open(..., speakers=True)``); None for none."""
        self._partial: list[Segment] = []
        self.index = TranscriptIndex(retrieval or HybridRetrieval(), vectors)
        self._live: OnlineProcessor | None = None  # set while the session is live
        self._final: list[Segment] = []  # a live session's final segments
        self._writer = threading.Lock()  # one feeder of a live stream at a time
        self._lock = threading.RLock()
        self._cancel = threading.Event()
        self.finished = threading.Event()  # set when encoding ends, ready or failed
        if info.status not in ("encoding", "live"):
            self.finished.set()

    # ----- opening -----------------------------------------------------------------
    @classmethod
    def open(cls, source: AudioSource, engine: Engine | None = None, progress: ProgressFn | None = None,
             reasoner: Any = None, *, sample_rate: int | None = None,
             max_duration_s: float = DEFAULT_MAX_DURATION_S, max_bytes: int | None = None,
             retrieval: Retrieval | None = None, speakers: bool = False, num_speakers: int | None = None,
             min_speakers: int | None = None, max_speakers: int | None = None,
             diarizer: Diarizer | None = None, transcription: TranscribeOptions | None = None) -> "AudioSession":
        """Decode ``source`` and encode it once with ``engine`` (the embedded Whisper engine by default), in the
        language and task of ``transcription`` (``TranscribeOptions(language="auto", task="translate")``).

        With ``speakers=True`` (or any count) the same pass also finds who speaks when: every segment gets a
        speaker, split where the speaker changes. ``num_speakers`` fixes the count; ``min_speakers`` and
        ``max_speakers`` bound the automatic one. Bad counts and an engine that cannot raise before decoding.
        """
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
        final segments only. The engine must transcribe with word times (the embedded Whisper engine does).
        """
        if engine is None:
            from aero_agent.engines import default_engine

            engine = default_engine()
        if not hasattr(engine, "transcribe_clips") or not hasattr(engine, "vad"):
            raise CapabilityError(f"the {engine.name} engine cannot transcribe live audio; use engine 'whisper'")
        transcription = transcription or TranscribeOptions()
        check_engine_options(engine, transcription)
        info = SessionInfo(id=session_id or new_session_id(), source=source, duration_s=0.0, engine=engine.name,
                           model_id=engine.model_id, status="live", language=transcription.language,
                           task=transcription.task, vocabulary=list(transcription.vocabulary) or None)
        session = cls(info, engine, reasoner=reasoner, transcription=transcription)
        session._live = OnlineProcessor(engine, options)  # type: ignore[arg-type]
        session._live.transcription = transcription
        return session

    @property
    def live_options(self) -> LiveOptions | None:
        """The live stream's options (window, step, pause, anchor...); None for a recording."""
        return None if self._live is None else self._live.options

    @property
    def live_stats(self) -> LiveStats | None:
        """How a live stream keeps up (step, decode time, ``behind_s``, ``lagging``); None for a recording."""
        return None if self._live is None else self._live.stats

    def _live_processor(self) -> OnlineProcessor:
        if self._live is None:
            raise SessionClosedError(f"session {self.id} was opened on a recording, not live audio")
        if self.info.status != "live" or self._cancel.is_set():
            raise SessionClosedError(f"live session {self.id} has finished; it takes no more audio "
                                     "(start a new live session)")
        return self._live

    def feed(self, samples: Any) -> LiveUpdate:
        """Append 16 kHz mono samples (float32 in [-1, 1] or int16) to a live session and decode what is due.

        Decoding runs here, in the caller's thread, outside the read lock: transcribe/search/ask answer
        meanwhile. A second writer while one is feeding gets :class:`SessionBusyError`; bad samples raise
        before anything changes, so the final text so far is always kept.
        """
        live = self._live_processor()
        if not self._writer.acquire(blocking=False):
            raise SessionBusyError(f"live session {self.id} is being fed by another writer; send audio of one "
                                   "stream from one writer, in order")
        try:
            live = self._live_processor()  # finished while waiting for the writer lock?
            update = live.feed(samples)
            self._apply(update, live)
        finally:
            self._writer.release()
        return update

    def _apply(self, update: LiveUpdate, live: OnlineProcessor) -> None:
        with self._lock:
            self._final.extend(update.final)
            self._partial = list(update.partial)
            self.info.duration_s = round(live.received / 16_000, 3)
            self.info.language = live.transcription.language or self.info.language  # detected on the first decode
            self.info.updated = utc_now()
        if update.final:
            self._changed()  # the store saves final segments as they come

    def _live_language(self) -> dict[str, str]:
        """The live stream's language (as given, or once detected) and task, for its transcripts."""
        asked = self._live.transcription if self._live is not None else self.transcription
        language = asked.language if asked.language not in (None, "auto") else None
        return {"task": asked.task, **({"language": language} if language else {})}

    def finish(self) -> Transcript:
        """End a live session: decode the rest, make every word final; the session becomes ``ready``.

        Finishing twice returns the same transcript."""
        if self._live is None:
            raise SessionClosedError(f"session {self.id} was opened on a recording, not live audio")
        if not self._writer.acquire(timeout=LIVE_FINISH_WAIT_S):
            raise SessionBusyError(f"live session {self.id}: a feed did not end within {LIVE_FINISH_WAIT_S:g} s")
        try:
            if self.info.status == "live":
                update = self._live.finish()
                self._apply(update, self._live)
                with self._lock:
                    transcript = Transcript(segments=list(self._final), duration_s=self.info.duration_s,
                                            **self._live_language())
                    stats = self._live.stats
                    self.encoded = EncodedAudio(engine=self.engine.name, model_id=self.engine.model_id,
                                                duration_s=self.info.duration_s, transcript=transcript,
                                                meta={"segments": len(transcript.segments), "live": True,
                                                      "decodes": stats.decodes,
                                                      "decode_total_s": stats.decode_total_s})
                    self._partial = []
                    self.info.status, self.info.progress = "ready", 1.0
                    self.info.updated = utc_now()
                self._guarded_indexing(self.index_transcript)  # passages, tags and gist, as for a recording
                self._changed()
                self.finished.set()
        finally:
            self._writer.release()
        return self.transcribe()

    def cancel(self) -> None:
        """Ask a running encoding to stop at its next progress report."""
        self._cancel.set()

    def run_encoding(self, clip: AudioClip, progress: ProgressFn | None = None) -> None:
        """The one expensive pass. Marks the session ``ready``, or ``failed`` with the reason and re-raises."""

        def report(p: EncodeProgress) -> None:
            if self._cancel.is_set():
                raise EncodingCancelledError(f"session {self.id} was closed while encoding")
            with self._lock:
                self._partial = list(p.segments)
                self.info.windows_done, self.info.windows_total = p.done, p.total
                self.info.progress = round(p.fraction, 4)
            self._guarded_indexing(self.index.prepare_settled, p.segments)
            if progress is not None:
                progress(p)

        try:
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
        except BaseException as exc:
            with self._lock:
                self.info.status, self.info.error = "failed", f"{type(exc).__name__}: {exc}"
                self.info.updated = utc_now()
            self.finished.set()
            raise
        self._changed()
        self.finished.set()

    # ----- speakers ----------------------------------------------------------------------
    def _apply_speakers(self, encoded: EncodedAudio, clip: AudioClip,
                        applied: DiarizationOptions | None) -> DiarizationOptions | None:
        """Label ``encoded``'s transcript with :attr:`diarization`, unless ``applied`` already was; returns
        what is applied now."""
        wanted = self.diarization
        if wanted is None or wanted is applied or encoded.transcript is None:
            return applied
        if self._cancel.is_set():
            raise EncodingCancelledError(f"session {self.id} was closed while encoding")
        encoded.transcript = self._labelled(encoded.transcript, clip.samples, wanted)
        return wanted

    def _labelled(self, transcript: Transcript, samples: Any, options: DiarizationOptions) -> Transcript:
        labelled = label_transcript(transcript, samples, options, self.engine, self.diarizer)
        self.info.speakers = len(labelled.speakers())
        return labelled

    def diarize(self, speakers: bool = True, num_speakers: int | None = None, min_speakers: int | None = None,
                max_speakers: int | None = None, *, audio: AudioSource | None = None,
                sample_rate: int | None = None) -> Transcript:
        """Find who speaks when in a ready session, without decoding its speech again; returns the labelled
        transcript (also what :meth:`transcribe` returns from now on, and what the store saves).

        The samples are not kept in memory after encoding (a 15-minute recording is 58 MB of them): they
        are decoded again from the session's source file, which must be unchanged since it was opened
        (:class:`SourceChangedError` otherwise). A session opened from bytes, an array or live audio has no
        file to read: pass the same recording as ``audio``.
        """
        options = requested_diarization(speakers, num_speakers, min_speakers, max_speakers)
        if options is None:
            raise InvalidArgumentError("diarize needs speakers=True or a speaker count")
        check_can_diarize(self.engine)
        with self._lock:
            encoded = self._require_ready("speaker diarization")
            transcript = self.transcribe()
            clip = self._source_clip(audio, sample_rate)
            encoded.transcript = self._labelled(transcript, clip.samples, options)
            self.info.updated = utc_now()
            self._guarded_indexing(self.index_transcript)
        self._changed()
        return self.transcribe()

    def retranscribe(self, start_s: float | None = None, end_s: float | None = None, vocabulary: Any = None, *,
                     audio: AudioSource | None = None) -> Transcript:
        """Decode the stretch between ``start_s`` and ``end_s`` (all by default) again with ``vocabulary`` added
        to the session's own, which every later decode of the session then uses too; returns that stretch.
        The audio is read again as for :meth:`diarize`."""
        from aero_agent.retranscription import retranscribe_range
        from aero_agent.vocabulary import Vocabulary

        transcription = self.transcription.with_vocabulary(Vocabulary.of(vocabulary))
        check_engine_options(self.engine, transcription)
        with self._lock:
            encoded = self._require_ready("re-transcription")
            clip = self._source_clip(audio, None)
            encoded.transcript = retranscribe_range(self.transcribe(), clip, self.engine, transcription,
                                                    start_s, end_s)
            self.transcription, self.info.vocabulary = transcription, list(transcription.vocabulary) or None
            self.info.updated = utc_now()
            self._guarded_indexing(self.index_transcript)
        self._changed()
        return self.transcribe(start_s, end_s)

    def ensure_speakers(self, speakers: bool = True, num_speakers: int | None = None,
                        min_speakers: int | None = None, max_speakers: int | None = None) -> Transcript:
        """The transcript with speakers: as it is when it already has a count the request allows (or no
        speech at all), else diarized now (:meth:`diarize`); while encoding, the request is kept for the
        end of the pass and the partial transcript returned."""
        options = requested_diarization(speakers, num_speakers, min_speakers, max_speakers)
        if options is None:
            return self.transcribe()
        with self._lock:
            if self.info.status == "encoding":
                check_can_diarize(self.engine)
                self.diarization = options  # run_encoding reads it when the transcript is done
                return self.transcribe()
            low, high = options.bounds
            found = self.info.speakers
            if found is not None and (found == 0 or options == DiarizationOptions() or low <= found <= high):
                return self.transcribe()
        return self.diarize(True, options.num_speakers, options.min_speakers, options.max_speakers)

    def _source_clip(self, audio: AudioSource | None, sample_rate: int | None) -> AudioClip:
        """The session's recording decoded again: ``audio`` when given, else its unchanged source file."""
        if audio is not None:
            clip = load_audio(audio, sample_rate=sample_rate)
        elif self.info.source_size is None:
            raise CapabilityError(f"session {self.id} was opened from in-memory or live audio, whose samples are "
                                  "not kept; pass the recording again as audio=..., or open it with speakers=True")
        else:
            path = Path(self.info.source)
            try:
                stat = path.stat()
            except OSError:
                stat = None
            if stat is None or (stat.st_size, stat.st_mtime) != (self.info.source_size, self.info.source_mtime):
                raise SourceChangedError(self.info.source, "the file is gone or changed since the session was "
                                         "opened, so speakers cannot be found for this transcript; open it again")
            clip = load_audio(path)
        if abs(clip.duration_s - self.info.duration_s) > 0.1:
            raise InvalidArgumentError(f"the audio given is {clip.duration_s:.1f} s long, the session's recording "
                                       f"{self.info.duration_s:.1f} s: give the same recording")
        return clip

    # ----- read-only views --------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.info.id

    @property
    def ready(self) -> bool:
        return self.info.status == "ready"

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
            if self.info.status == "live":
                live = Transcript(segments=list(self._final), partial=list(self._partial),
                                  duration_s=self.info.duration_s, complete=False, **self._live_language())
                return live.between(start_s, end_s)
            if self.info.status == "encoding":
                partial = Transcript(segments=list(self._partial), duration_s=self.info.duration_s, complete=False)
                return partial.between(start_s, end_s)
            encoded = self._require_ready("transcription")
            if encoded.transcript is None:
                if not self.engine.capabilities.transcribe:
                    raise CapabilityError(f"the {self.engine.name} engine cannot transcribe")
                encoded.transcript = self.engine.transcribe(encoded)
                self._changed()
            return encoded.transcript.between(start_s, end_s)

    def search(self, query: str, k: int = 5, *, speaker: str | None = None, start_s: float | None = None,
               end_s: float | None = None) -> list[SearchHit]:
        """Passages (segments and windows of adjacent segments) ranked for ``query``, best first, each with its
        true start and end; only those of ``speaker`` and overlapping ``start_s``-``end_s`` when given.

        While encoding, the part encoded so far is searched.
        """
        query, k = check_query(query), check_k(k)
        with self._lock:
            transcript = self.transcribe()
            if start_s is not None or end_s is not None:
                transcript.between(start_s, end_s)  # raises for a range outside the audio
            if speaker is not None:
                transcript.of_speaker(speaker)  # raises for a label the recording lacks
            return self.index.search(transcript.segments, query, k, speaker=speaker, start_s=start_s, end_s=end_s)

    def index_transcript(self) -> None:
        """Embed every passage of the final transcript (once) and set the session's tags and gist."""
        with self._lock:
            found = self.index.topics(self.transcribe().segments)
            if found is not None:
                self.info.tags, self.info.gist = found.tags, found.gist

    def _guarded_indexing(self, step: Callable[..., None], *args: Any) -> None:
        """Run an indexing step; a failure there (missing embedder weights...) must not fail the encoding,
        search then indexes lazily and reports the problem itself."""
        try:
            step(*args)
        except Exception as exc:
            log.warning("session %s: indexing for search failed (%s: %s); it will be retried on search",
                        self.id, type(exc).__name__, exc)

    # ----- turns ------------------------------------------------------------------------
    def _turn_number(self) -> int:
        return sum(1 for t in self.history if t.role == "user") + 1

    def _record(self, kind: str, prompt: str, reply: str) -> None:
        self.history.append(Turn(role="user", content=prompt, kind=kind))
        self.history.append(Turn(role="assistant", content=reply, kind=kind))
        self.info.turns = self._turn_number() - 1
        self.info.updated = utc_now()
        self._changed()

    def _has_transcript(self) -> bool:
        return (self.encoded is not None and self.encoded.transcript is not None
                or self.info.status in ("encoding", "live"))

    def ask(self, question: str, *, speaker: str | None = None) -> Answer:
        """Answer a question about the audio, using the engine, the reasoner, or transcript evidence (the
        passages ``search`` ranks best); with ``speaker``, only about what that speaker says."""
        question = check_text(question, "question")
        with self._lock:
            if self.info.status == "failed":
                self._require_ready("answering")
            turn = self._turn_number()
            evidence = self._evidence(question, speaker)
            if self.engine.capabilities.answer:
                encoded = self._require_ready("answering")
                prompt = question if speaker is None else _about_speaker(question, speaker, self.transcribe())
                reply = self.engine.answer(encoded, prompt, self.history)
                text, method = reply.text.strip(), "engine"
                meta: dict[str, Any] = {"prefilled_tokens": reply.prefilled_tokens,
                                        "generated_tokens": reply.generated_tokens, **reply.metadata}
            elif self.reasoner is not None:
                text = reasoner_answer(self.reasoner, self.transcribe().of_speaker(speaker), self.history, question)
                method, meta = "reasoner", {"reasoner": type(self.reasoner).__name__}
            else:
                text, method = self._evidence_answer(evidence), "transcript-evidence"
                meta = {"engine_can_answer": False,
                        "note": f"The {self.engine.name} engine transcribes but cannot reason; this answer is the "
                                "best-matching transcript evidence. Use an answer-capable engine or a reasoner."}
            if self.info.status == "encoding":
                meta["partial"] = True
                meta["note_partial"] = f"encoding is {self.info.progress:.0%} done; only that part was searched"
            if speaker is not None:
                meta["speaker"] = speaker
            if self.info.status == "live":
                meta["partial"] = True
                meta["note_partial"] = (f"the session is live ({self.info.duration_s:.0f} s so far); only the "
                                        "final text was searched")
            self._record("ask", question, text)
            # the notes stay in metadata too, for callers of the earlier, untyped form
            notes = [str(meta[key]) for key in ("note", "note_partial") if meta.get(key)]
            return Answer(text=text, evidence=evidence, turn=turn, method=method, complete=not meta.get("partial"),
                          notes=notes, metadata=meta)

    def _evidence(self, question: str, speaker: str | None = None) -> list[Segment]:
        if speaker is None and not self._has_transcript():
            return []
        return evidence_segments(self.search(question, EVIDENCE_HITS, speaker=speaker))

    @staticmethod
    def _evidence_answer(evidence: Sequence[Segment]) -> str:
        if not evidence:
            return "No part of the transcript matches the question."
        return "Best-matching transcript evidence:\n" + evidence_lines(evidence)

    def extract(self, schema: SchemaLike | None = None,
                instruction: str = "Extract the requested information from the recording.") -> Extraction:
        """Structured data validated against ``schema`` (a pydantic model or a JSON Schema)."""
        instruction = check_text(instruction, "instruction")
        target = as_schema(schema)
        with self._lock:
            turn = self._turn_number()
            if self.engine.capabilities.answer:
                data, method, meta = self._engine_extract(target, instruction)
            elif self.reasoner is not None:
                data = reasoner_extract(self.reasoner, self.transcribe(), self.history, target, instruction)
                method, meta = "reasoner", {"reasoner": type(self.reasoner).__name__}
            else:
                raise CapabilityError(
                    f"the {self.engine.name} engine ({self.engine.model_id}) only transcribes, so it cannot "
                    "extract structured data; use an answer-capable engine (engine 'aero') or give a reasoner "
                    "chat model, or use search/transcribe instead")
            self._record("extract", instruction, json.dumps(data, ensure_ascii=False))
            return Extraction(data=data, method=method, turn=turn, metadata=meta)

    def _engine_extract(self, target: Any, instruction: str) -> tuple[Any, str, dict[str, Any]]:
        encoded = self._require_ready("extraction")
        prompt = (f"{instruction}\nReply with one JSON value only, no prose, that validates against this JSON "
                  f"Schema:\n{json.dumps(target.json_schema)}")
        reply = self.engine.answer(encoded, prompt, self.history)
        try:
            return target.validate(reply.text), "engine", {"attempts": 1}
        except ExtractionError as first:
            repair = (f"{prompt}\nYour previous reply was invalid: {first}. Previous reply:\n{reply.text[:2000]}\n"
                      "Reply again with corrected JSON only.")
            retry = self.engine.answer(encoded, repair, self.history)
            try:
                return target.validate(retry.text), "engine", {"attempts": 2}
            except ExtractionError as second:
                raise ExtractionError(f"the {self.engine.name} engine gave invalid structured output twice: "
                                      f"{second}") from second

    def describe(self) -> Answer:
        """Sounds, music and speaker emotion, from an engine that hears more than words."""
        with self._lock:
            if not self.engine.capabilities.describe:
                raise CapabilityError(f"the {self.engine.name} engine cannot describe sounds; use engine 'aero'")
            encoded = self._require_ready("description")
            turn = self._turn_number()
            reply = self.engine.answer(encoded, DESCRIBE_PROMPT, self.history)
            self._record("describe", DESCRIBE_PROMPT, reply.text.strip())
            return Answer(text=reply.text.strip(), turn=turn, method="engine",
                          metadata={"prefilled_tokens": reply.prefilled_tokens})

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)


SPEAKER_CONTEXT_CHARS = 4_000


def _default_engine() -> Engine:
    from aero_agent.engines import default_engine

    return default_engine()


def _about_speaker(question: str, speaker: str, transcript: Transcript) -> str:
    """The prompt for an answer-capable engine asked about one speaker: the question and that speaker's lines."""
    lines = transcript.of_speaker(speaker).head(SPEAKER_CONTEXT_CHARS, "srt").text
    return f"{question}\nAnswer only about what {speaker} says. {speaker}'s lines:\n{lines}"
