"""A live session's stream: the online processor, its final segments and partial tail, one feeder at a time.

:class:`AudioSession` holds one while it is live (``session.live``); what is said is kept here until
``finish`` turns it into the session's transcript through :func:`live_encoded`, the one conversion of a live
transcript into an :class:`EncodedAudio` (the store's recovery of a dead process's stream uses it too).
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from aero_agent.engines.base import EncodedAudio, Engine
from aero_agent.errors import CapabilityError, SessionBusyError
from aero_agent.live import LiveOptions, LiveStats, LiveUpdate, OnlineProcessor
from aero_agent.live.chunks import as_float_samples
from aero_agent.sound_events import LiveEvents, merge_events
from aero_agent.transcript import Segment, Transcript
from aero_agent.transcription import AUTO, TranscribeOptions

LIVE_FINISH_WAIT_S = 600.0  # finish() waits this long for a feed in flight


def live_encoded(engine: str, model_id: str, transcript: Transcript, stats: LiveStats | None = None) -> EncodedAudio:
    """A finished live stream's transcript as the session's engine state (no tensors: the words are all)."""
    meta: dict[str, Any] = {"segments": len(transcript.segments), "live": True}
    if stats is not None:
        meta.update(decodes=stats.decodes, decode_total_s=stats.decode_total_s)
    return EncodedAudio(engine=engine, model_id=model_id, duration_s=transcript.duration_s, transcript=transcript,
                        meta=meta)


class LiveStream:
    """Audio still arriving: :meth:`feed` decodes what is due, :meth:`finish` the rest."""

    def __init__(self, engine: Engine, options: LiveOptions | None, transcription: TranscribeOptions) -> None:
        if not hasattr(engine, "transcribe_clips") or not hasattr(engine, "vad"):
            raise CapabilityError(f"the {engine.name} engine cannot transcribe live audio; use engine 'whisper'")
        self.processor = OnlineProcessor(engine, options)  # type: ignore[arg-type]
        self.processor.transcription = transcription
        self.final: list[Segment] = []
        self.partial: list[Segment] = []
        self.writer = threading.Lock()  # one feeder of a stream at a time
        detector = getattr(engine, "sound_events", None)  # heard here once; the decodes' twin skips it
        self.heard = LiveEvents(detector) if detector is not None else None

    @property
    def options(self) -> LiveOptions:
        return self.processor.options

    @property
    def stats(self) -> LiveStats:
        return self.processor.stats

    @property
    def duration_s(self) -> float:
        """Seconds of audio received so far."""
        return round(self.processor.received / 16_000, 3)

    @property
    def language(self) -> str | None:
        """The language as given, or once detected on the first decode."""
        return self.processor.transcription.language

    def take(self, update: LiveUpdate) -> None:
        """Keep a decode's new final segments and its partial tail."""
        self.final.extend(update.final)
        self.partial = list(update.partial)

    def transcript(self, *, complete: bool) -> Transcript:
        """The final segments so far (with the partial tail while not ``complete``)."""
        asked = self.processor.transcription
        language = asked.language if asked.language not in (None, AUTO) else None
        extra: dict[str, Any] = {"task": asked.task, **({"language": language} if language else {})}
        events = self.heard.events() if self.heard is not None else []
        if complete:
            return merge_events(Transcript(segments=list(self.final), duration_s=self.duration_s, **extra), events)
        return Transcript(segments=list(self.final), partial=list(self.partial), events=events,
                          duration_s=self.duration_s, complete=False, **extra)

    def feed(self, samples: Any, session_id: str, check_open: Callable[[], None],
             take: Callable[[LiveUpdate], None]) -> LiveUpdate:
        """Decode ``samples`` (one writer at a time: a second gets :class:`SessionBusyError`); ``check_open``
        raises when the stream has finished, ``take`` keeps the update."""
        check_open()
        if not self.writer.acquire(blocking=False):
            raise SessionBusyError(f"live session {session_id} is being fed by another writer; send audio of one "
                                   "stream from one writer, in order")
        try:
            check_open()  # finished while waiting for the writer lock?
            update = self.processor.feed(samples)
            if self.heard is not None:
                self.heard.feed(as_float_samples(samples))
            take(update)
        finally:
            self.writer.release()
        return update

    def finish(self, session_id: str, is_live: Callable[[], bool], end: Callable[[LiveUpdate], None]) -> None:
        """Decode the rest and hand it to ``end``, once the feed in flight (if any) is done; nothing when the
        stream is no longer live (finishing twice)."""
        if not self.writer.acquire(timeout=LIVE_FINISH_WAIT_S):
            raise SessionBusyError(f"live session {session_id}: a feed did not end within {LIVE_FINISH_WAIT_S:g} s")
        try:
            if is_live():
                update = self.processor.finish()
                if self.heard is not None:
                    self.heard.finish()
                end(update)
        finally:
            self.writer.release()
