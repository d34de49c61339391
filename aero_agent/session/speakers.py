"""Who speaks when, for a session: labels found in the encoding pass, or later from the recording decoded again."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from aero_agent.audio import AudioClip, AudioSource, load_audio
from aero_agent.engines.base import EncodedAudio, Engine
from aero_agent.errors import CapabilityError, EncodingCancelledError, InvalidArgumentError, SourceChangedError
from aero_agent.results import SessionInfo, utc_now
from aero_agent.speakers.base import DiarizationOptions, Diarizer, requested_diarization
from aero_agent.speakers.labelling import check_can_diarize, label_with_windows
from aero_agent.transcript import Transcript


class SpeakerLabels:
    """The speaker part of :class:`~aero_agent.session.AudioSession` (which provides the attributes below)."""

    info: SessionInfo
    engine: Engine
    diarizer: Diarizer | None
    diarization: DiarizationOptions | None
    id: str
    _lock: threading.RLock
    _cancel: threading.Event

    if TYPE_CHECKING:
        def transcribe(self, start_s: float | None = None, end_s: float | None = None) -> Transcript: ...
        def _require_ready(self, what: str) -> EncodedAudio: ...
        def _guarded_indexing(self, step: Callable[..., None], *args: Any) -> None: ...
        def index_transcript(self) -> None: ...
        def _save(self, **what: Any) -> None: ...

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
        labelled, windows = label_with_windows(transcript, samples, options, self.engine, self.diarizer)
        self.info.speakers = len(labelled.speakers())
        from aero_agent.voices.naming import transcript_prints

        # kept and matched by a store with voices; made from the diarizer's own window embeddings
        self.speaker_prints = transcript_prints(labelled, samples, windows)
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
            clip = source_clip(self.info, audio, sample_rate)
            encoded.transcript = self._labelled(transcript, clip.samples, options)
            self.info.updated = utc_now()
            self._guarded_indexing(self.index_transcript)
        self._save(transcript=True, vectors=True)
        return self.transcribe()

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


def source_clip(info: SessionInfo, audio: AudioSource | None, sample_rate: int | None) -> AudioClip:
    """A session's recording decoded again: ``audio`` when given, else its unchanged source file."""
    if audio is not None:
        clip = load_audio(audio, sample_rate=sample_rate)
    elif info.source_size is None:
        raise CapabilityError(f"session {info.id} was opened from in-memory or live audio, whose samples are "
                              "not kept; pass the recording again as audio=..., or open it with speakers=True")
    else:
        path = Path(info.source)
        try:
            stat = path.stat()
        except OSError:
            stat = None
        if stat is None or (stat.st_size, stat.st_mtime) != (info.source_size, info.source_mtime):
            raise SourceChangedError(info.source, "the file is gone or changed since the session was "
                                     "opened, so speakers cannot be found for this transcript; open it again")
        clip = load_audio(path)
    if abs(clip.duration_s - info.duration_s) > 0.1:
        raise InvalidArgumentError(f"the audio given is {clip.duration_s:.1f} s long, the session's recording "
                                   f"{info.duration_s:.1f} s: give the same recording")
    return clip
