"""The live processor: a rolling buffer re-decoded as audio arrives, words committed by the agreement policy.

Every step the buffer since the last trim is transcribed again; the buffer is cut at the end of the last committed
sentence so decoding stays short. Voice activity skips decoding when only silence came in, and a pause
finalises whatever the last hypothesis held. Decoding runs inside :meth:`OnlineProcessor.feed`, so nothing
queues: when a decode takes longer than the step, the step widens and the processor reports itself lagging.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, is_dataclass, replace
from typing import Protocol, Sequence

import numpy as np

from aero_agent.audio import AudioClip
from aero_agent.errors import AudioTooLargeError
from aero_agent.live.agreement import SENTENCE_END, HypothesisBuffer, words_to_segments
from aero_agent.live.chunks import LIVE_SOURCE, as_float_samples
from aero_agent.live.options import MAX_CONTEXT_GAP_S, LiveOptions
from aero_agent.transcript import Segment, Transcript, Word
from aero_agent.transcription import TranscribeOptions
from aero_agent.vad import FRAME, SAMPLE_RATE

VAD_BATCH = 4  # frames (128 ms) the stream's VAD decides at a time: each call pays a second of warm-up


class LiveEngine(Protocol):
    """What live transcription needs of an engine: transcripts with word times for a batch of clips, and
    per-frame speech probabilities (the Whisper engine's ``transcribe_clips`` and ``vad``)."""

    def transcribe_clips(self, clips: Sequence[AudioClip]) -> list[Transcript]: ...


@dataclass
class LiveUpdate:
    """What one ``feed`` (or ``finish``) changed: segments now final, and the partial tail that may change."""

    final: list[Segment] = field(default_factory=list)
    partial: list[Segment] = field(default_factory=list)


RECENT_DECODES = 8
"""Decodes the measured decode time averages over (a running mean: older decodes fade out)."""


@dataclass
class LiveStats:
    """How the stream is keeping up (times in seconds)."""

    received_s: float = 0.0
    """Audio fed so far (the stream's current time)."""
    decodes: int = 0
    skipped_silent: int = 0
    step_s: float = 1.0
    """The step in use now."""
    last_decode_s: float = 0.0
    decode_total_s: float = 0.0
    decode_mean_s: float = 0.0
    """Mean time of the recent decodes (the last eight or so): the speed this machine shows, which the base step
    follows (see :attr:`LiveOptions.decode_share`)."""
    base_step_s: float = 1.0
    """The step the processor returns to when decodes keep up: ``step_s``, or wider on a slow machine."""
    behind_s: float = 0.0
    """Audio that had waited for decoding beyond one step when the last decode started."""
    lagging: bool = False
    """True while decodes take longer than the base step (the step is widened)."""


class BufferVad:
    """The VAD as a live engine twin sees it: for the buffer being decoded, the probabilities the processor
    already computed frame by frame as the audio came (only frames not yet decided are run); the model for
    anything else. Re-running the VAD over the whole buffer cost a fifth of each decode."""

    def __init__(self, vad: object) -> None:
        self.vad = vad
        self.known: tuple[np.ndarray, np.ndarray] | None = None  # (the buffer, its probabilities so far)

    def probabilities(self, samples: np.ndarray, block_rows: int = 64, start_frame: int = 0) -> np.ndarray:
        if self.known is None or samples is not self.known[0] or start_frame:
            return self.vad.probabilities(samples, block_rows, start_frame)  # type: ignore[attr-defined]
        probs = self.known[1]
        rest = self.vad.probabilities(samples, block_rows, len(probs))  # type: ignore[attr-defined]
        return np.concatenate([probs, rest]) if len(rest) else probs

    def __getattr__(self, name: str) -> object:
        return getattr(self.vad, name)


def streaming_engine(engine: LiveEngine, window_s: float | None = None) -> LiveEngine:
    """The engine as live decoding uses it: without repair rounds, which would re-decode the word a buffer cuts
    off at its end with a second encoder pass every step (the next step decodes it anyway), with encoder
    windows of ``window_s`` instead of 30 s (a buffer of a few seconds would otherwise pay for 30 s every
    step), and with a float decoder: int8 decoding, which costs nothing on whole windows offline, finalised
    clearly worse text from a few seconds of buffer (tests/test_live.py: WER 11.3 % against 7.0 % on 27 s of
    read speech). The twin shares the model, the weights and the engine's lock; its VAD is a
    :class:`BufferVad`, so a decode reuses the probabilities the stream already has."""
    options = getattr(engine, "options", None)
    if not is_dataclass(options) or not hasattr(engine, "variant"):
        return engine
    wanted = {"repair_rounds": 0, "min_window_s": window_s, "int8": False}
    changes = {k: v for k, v in wanted.items() if hasattr(options, k) and getattr(options, k) != v}
    twin = engine.variant(**changes)  # type: ignore[attr-defined]
    if hasattr(twin, "vad"):
        twin.vad = BufferVad(twin.vad)
    if hasattr(twin, "sound_events"):
        twin.sound_events = None  # the stream runs the event detector once (session.live_stream.LiveStream)
    return twin


class OnlineProcessor:
    """Streams 16 kHz mono audio through ``engine``: :meth:`feed` returns what became final and the partial
    tail; :meth:`finish` finalises the rest. Not thread-safe: the session serialises callers."""

    def __init__(self, engine: LiveEngine, options: LiveOptions | None = None) -> None:
        self.options = options or LiveOptions()
        self.engine = streaming_engine(engine, self.options.window_s)
        self.transcription = TranscribeOptions()  # a session's language and task; a detected language is kept
        self.words = HypothesisBuffer()
        self.stats = LiveStats(step_s=self.options.step_s, base_step_s=self.options.step_s)
        self.buffer = np.zeros(0, dtype=np.float32)
        self.offset = 0  # stream sample at buffer[0]
        self.speech = np.zeros(0, dtype=np.float32)  # VAD probability per frame of the buffer
        self.pending = 0  # samples received since the last decode (or silence skip)
        self.heard_speech = False  # speech in the buffer since the last finalisation
        self.finished = False
        self.clock = time.perf_counter  # what paces the step (a benchmark simulating an idle machine swaps it)

    @property
    def received(self) -> int:
        return self.offset + len(self.buffer)

    def partial(self) -> list[Segment]:
        """The hypothesis not yet agreed, as segments (may change)."""
        return words_to_segments(self.words.hypothesis)

    def feed(self, samples: np.ndarray) -> LiveUpdate:
        """Append samples (float32 or int16, any length up to ``max_chunk_s``) and decode when a step is due."""
        audio = as_float_samples(samples)
        if len(audio) > self.options.max_chunk_s * SAMPLE_RATE:
            raise AudioTooLargeError(LIVE_SOURCE, f"a chunk of {len(audio) / SAMPLE_RATE:.1f} s is over the "
                                                  f"{self.options.max_chunk_s:g} s a single feed may carry")
        update = LiveUpdate()
        piece = int(self.options.max_step_s * SAMPLE_RATE)
        for lo in range(0, len(audio), piece):  # a long chunk is taken step by step, so the buffer stays short
            self._append(audio[lo:lo + piece])
            if self._pause_heard():
                update.final += self._decode(flush=True)
            elif self.pending >= self.stats.step_s * SAMPLE_RATE:
                update.final += self._step()
        self.stats.received_s = round(self.received / SAMPLE_RATE, 3)
        update.partial = self.partial()
        return update

    def finish(self) -> LiveUpdate:
        """Decode what is left and make every word final."""
        final: list[Segment] = []
        if not self.finished:
            self.finished = True
            if self.pending and self.heard_speech:
                final += self._decode(flush=True)
            final += words_to_segments(self.words.flush())
        return LiveUpdate(final=final, partial=[])

    # ----- internals -------------------------------------------------------------------
    def _append(self, audio: np.ndarray) -> None:
        self.buffer = np.concatenate([self.buffer, audio])
        self.pending += len(audio)
        self._update_speech(VAD_BATCH)

    def _update_speech(self, at_least: int = 1) -> None:
        """Decide the buffer's new complete VAD frames once ``at_least`` of them have come (each call also
        runs the VAD's second of warm-up on the audio before them, so frames are taken a few at a time)."""
        done = len(self.speech)
        whole = len(self.buffer) // FRAME
        if whole - done >= at_least:
            vad = self.engine.vad  # type: ignore[attr-defined]
            fresh = vad.probabilities(self.buffer[:whole * FRAME], start_frame=done)
            self.speech = np.concatenate([self.speech, fresh])
            self.heard_speech = self.heard_speech or bool((fresh >= self.options.vad.threshold).any())

    def _silent_frames_at_end(self) -> int:
        quiet = self.speech < self.options.vad.threshold
        if quiet.all():
            return len(quiet)
        return int(len(quiet) - 1 - np.flatnonzero(~quiet)[-1])

    def _pause_heard(self) -> bool:
        """Speech not yet finalised followed by ``pause_s`` of silence: what was said before the pause will
        not change with more audio, so it is decoded and finalised now instead of waiting for a step and an
        agreeing second decode."""
        pause_frames = max(1, int(self.options.pause_s * SAMPLE_RATE / FRAME))
        return self.heard_speech and len(self.speech) > pause_frames and self._silent_frames_at_end() >= pause_frames

    def _step(self) -> list[Segment]:
        if not self.heard_speech:
            # nothing but silence since the last finalisation: keep only a little of it, decode nothing
            self.stats.skipped_silent += 1
            self.pending = 0
            if self._silent_frames_at_end() * FRAME > MAX_CONTEXT_GAP_S * SAMPLE_RATE or not self.options.context_s:
                self._trim_to(max(0, len(self.buffer) - int(self.options.pause_s * SAMPLE_RATE)))
            return []
        return self._decode(flush=False)

    def _transcribe(self, clip: AudioClip) -> Transcript:
        """The buffer's transcript; the language detected on the first decode is kept for the later ones, so a
        stream is detected once and never switches language between two decodes of the same words. Decoded
        greedily unless the session asked for a beam size (the engine's beams for short recordings would spend
        the live latency budget on every step)."""
        if self.transcription.is_default and not hasattr(self.engine, "check_options"):
            return self.engine.transcribe_clips([clip])[0]
        asked = self.transcription  # a live window is no recording: greedy unless a beam size was asked
        asked = asked if asked.beam_size is not None else replace(asked, beam_size=1)
        transcript = self.engine.transcribe_clips([clip], options=asked)[0]  # type: ignore[call-arg]
        if transcript.language_probability is not None and transcript.segments:
            self.transcription = replace(self.transcription, language=transcript.language)
        return transcript

    def _decode(self, flush: bool) -> list[Segment]:
        step = self.stats.step_s
        self.stats.behind_s = round(max(0.0, self.pending / SAMPLE_RATE - step), 3)
        t0 = self.clock()
        self._update_speech()
        clip = AudioClip(self.buffer, LIVE_SOURCE, SAMPLE_RATE, 1)
        vad = getattr(self.engine, "vad", None)
        if isinstance(vad, BufferVad):
            vad.known = (self.buffer, self.speech)
        try:
            transcript = self._transcribe(clip)
        finally:
            if isinstance(vad, BufferVad):
                vad.known = None
        spent = self.clock() - t0
        self._pace(spent)
        self.pending = 0
        base = self.offset / SAMPLE_RATE
        words = [Word(start=round(w.start + base, 3), end=round(w.end + base, 3), word=w.word,
                      probability=w.probability) for s in transcript.segments for w in (s.words or [])]
        committed = self.words.insert(words, self.options.anchor_s)
        if flush:  # a pause: what was heard before it will not change with more audio
            committed += self.words.flush()
            self.heard_speech = False
            self._cut_at(self.words.last_committed_end)
        else:
            committed += self._trim()
        return words_to_segments(committed)

    def _pace(self, spent: float) -> None:
        """Widen the step while decoding cannot keep up with it; narrow it back when it can (a decode under 0.7 of
        the step: with 0.5, one slow decode left a 1 s step at 1.1-1.4 s for good while decodes took 0.55-0.6
        CPU s; simulated, loaded machine, defaults: p90 latency 4.41 s with 0.5, 2.88 s with 0.7), down to the
        base step, which follows the machine's measured decode time (:meth:`_base_step`)."""
        s, o = self.stats, self.options
        s.decodes += 1
        s.last_decode_s = round(spent, 3)
        s.decode_total_s = round(s.decode_total_s + spent, 3)
        s.decode_mean_s = round(s.decode_mean_s + (spent - s.decode_mean_s) / min(s.decodes, RECENT_DECODES), 3)
        s.base_step_s = self._base_step()
        if spent > 0.9 * s.step_s:
            s.step_s = min(o.max_step_s, round(spent * 1.25, 2))
        elif spent < 0.7 * s.step_s:
            s.step_s = round(s.step_s * 0.8, 2)
        s.step_s = max(s.step_s, s.base_step_s)
        s.lagging = spent > o.step_s or s.behind_s > 0

    def _base_step(self) -> float:
        """``step_s`` while the recent decodes take at most ``decode_share`` of it; on a machine whose decodes take
        longer, the step at which they take that share (at most ``max_step_s``): a slow CPU decodes less often
        instead of back to back (see :attr:`LiveOptions.decode_share`)."""
        o = self.options
        if o.decode_share is None:
            return o.step_s
        return min(o.max_step_s, max(o.step_s, round(self.stats.decode_mean_s / o.decode_share, 2)))

    def _sample_of(self, t: float) -> int:
        return int(round(t * SAMPLE_RATE)) - self.offset

    def _trim(self) -> list[Word]:
        """Cut the buffer at the last committed sentence end once it is long; at the last committed word (or
        after finalising the hypothesis) once it is too long."""
        length_s = len(self.buffer) / SAMPLE_RATE
        if length_s <= self.options.trim_s:
            return []
        base = self.offset / SAMPLE_RATE
        # committed since the buffer was cut (not its context), and sentence ends that shorten it
        inside = [w for w in self.words.committed[-200:] if w.end > base + self.options.context_s]
        ends = [w.end for w in inside if SENTENCE_END.search(w.word.strip())
                and w.end - self.options.context_s > base + 0.5]
        forced: list[Word] = []
        if ends:
            self._cut_at(ends[-1])
        elif length_s > self.options.max_buffer_s:
            cut = self.words.last_committed_end
            if not inside:  # decodes never agreed: a buffer this long must not grow further
                forced = self.words.flush()
                cut = max(self.words.last_committed_end, self.received / SAMPLE_RATE - self.options.trim_s)
            self._cut_at(cut)
        return forced

    def _cut_at(self, t: float) -> None:
        """Start the buffer ``context_s`` before stream time ``t`` (a commit point)."""
        self._trim_to(self._sample_of(t - self.options.context_s))

    def _trim_to(self, sample: int) -> None:
        cut = (max(0, min(sample, len(self.buffer))) // FRAME) * FRAME  # on a VAD frame, so frames stay aligned
        if cut:
            self.buffer = self.buffer[cut:]
            self.speech = self.speech[cut // FRAME:]
            self.offset += cut
