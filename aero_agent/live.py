"""Live transcription: a rolling buffer re-decoded as audio arrives, words committed by LocalAgreement-2.

The policy follows ufal's whisper_streaming (``OnlineASRProcessor`` and ``HypothesisBuffer``): every step the
buffer since the last trim is transcribed again; a word becomes final once two consecutive decodes agree on it
(the longest common prefix of the last two hypotheses); the buffer is cut at the end of the last committed
sentence so decoding stays short. Voice activity skips decoding when only silence came in, and a pause
finalises whatever the last hypothesis held. Decoding runs inside :meth:`OnlineProcessor.feed`, so nothing
queues: when a decode takes longer than the step, the step widens and the processor reports itself lagging.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field, is_dataclass, replace
from numbers import Real
from typing import Annotated, Any, Protocol, Sequence

import numpy as np
from pydantic import Field

from aero_agent.audio import AudioClip
from aero_agent.errors import AudioTooLargeError, CorruptAudioError, InvalidArgumentError, InvalidSamplesError
from aero_agent.transcription import TranscribeOptions
from aero_agent.transcript import Segment, Transcript, Word
from aero_agent.vad import FRAME, SAMPLE_RATE, VadOptions

LIVE_SOURCE = "<live>"
_SENTENCE_END = re.compile(r"[.?!][\"')\]]*$")
_NORMAL = re.compile(r"[^\w']+")
MAX_CONTEXT_GAP_S = 2.0  # silence after which kept context goes: the engine decodes past 3 s gaps apart
VAD_BATCH = 4  # frames (128 ms) the stream's VAD decides at a time: each call pays a second of warm-up


class LiveEngine(Protocol):
    """What live transcription needs of an engine: transcripts with word times for a batch of clips, and
    per-frame speech probabilities (the Whisper engine's ``transcribe_clips`` and ``vad``)."""

    def transcribe_clips(self, clips: Sequence[AudioClip]) -> list[Transcript]: ...


ENCODER_WINDOW_S = 30.0
"""Whisper's encoder window: the longest a live decode's window can be (``window_s`` None pads to it)."""


@dataclass(frozen=True)
class Limit:
    """The seconds one live option may take: finite, above ``low`` (or from it, with ``low_ok``), at most
    ``high`` (a number, or the name of the option that caps it). ``about`` is what a tool's caller reads."""

    low: float = 0.0
    low_ok: bool = False
    high: float | str = math.inf
    about: str = ""

    def cap(self, options: "LiveOptions | None" = None) -> float:
        """The upper bound: a number, or the capping option's value in ``options`` (its default without; none
        while that value is itself not a number, which its own check refuses)."""
        if not isinstance(self.high, str):
            return self.high
        cap = (getattr(options, self.high) if options is not None
               else LiveOptions.__dataclass_fields__[self.high].default)
        return float(cap) if isinstance(cap, Real) and not isinstance(cap, bool) else math.inf

    def problem(self, value: object, options: "LiveOptions | None" = None) -> str | None:
        """Why ``value`` is refused, or None when it fits."""
        high = self.cap(options)
        bounds = f"{'at least' if self.low_ok else 'above'} {self.low:g}"
        if math.isfinite(high):
            bounds += f" and at most {high:g}" + (f" ({self.high})" if isinstance(self.high, str) else "")
        if (isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value)
                or value < self.low or (value == self.low and not self.low_ok) or value > high):
            return f"must be a finite number of seconds {bounds}"
        return None


LIMITS: dict[str, Limit] = {
    "step_s": Limit(high="max_step_s", about=(
        "Seconds of new audio between two decodes (default 1; shorter gives final text sooner, costs more CPU).")),
    "max_step_s": Limit(),
    "trim_s": Limit(high="max_buffer_s"),
    "max_buffer_s": Limit(),
    "pause_s": Limit(high="max_buffer_s", about=(
        "Seconds of silence after speech that make the text before it final (default 0.5).")),
    "context_s": Limit(low_ok=True, high="trim_s", about=(
        "Seconds of final audio kept before the buffer when it is cut, so the next decodes hear the words "
        "before the new ones (default 2; 0: none).")),
    "anchor_s": Limit(low_ok=True, high=2.0, about=(
        "Also make final the words two decodes place within this many seconds (default 0.2, which gives final "
        "text sooner; 0: plain LocalAgreement-2).")),
    "window_s": Limit(low_ok=True, high=ENCODER_WINDOW_S, about=(
        "Shortest encoder window in seconds (default 15; 30: Whisper's own, slower; shorter windows make up "
        "words).")),
    "max_chunk_s": Limit(),
}
"""The one table of what each live timing option may be (None, where allowed, is not checked): LiveOptions,
the CLI's ``listen`` flags and the tools' arguments all read it."""


@dataclass(frozen=True)
class LiveOptions:
    """How often a live stream is re-decoded, when words become final, and how much one feed may carry.

    Tried and removed: decoding each buffer after a text prompt of the committed text before it (as
    whisper_streaming does; with 200 characters tiny.en repeated each buffer's sentence two or three times,
    WER 55 % on 78 s of speech), and holding back agreed words that end near the buffer's end (0.4 s added
    0.2 s of median latency and fixed no error)."""

    step_s: float = 1.0
    """New audio that triggers a decode of the buffer (the step widens up to ``max_step_s`` when lagging).
    With ``context_s`` 2 (simulated, loaded machine, modelled decode cost so the runs differ only in the step):
    0.75 s WER +3.63 against 1.0 s +2.04; ``pause_s`` 0.4 +2.95, ``anchor_s`` 0.1 +2.72. Through the CLI on
    the idle machine, before ``context_s`` existed (``benchmarks/live.py --seconds 180``, 191 s, offline WER
    2.95 %, 15 s window, ``anchor_s`` 0.2): 1.0 s 1.97/3.85 s median/p90 latency, WER +1.6, 36 % CPU; 0.75 s
    1.71/3.18 s (both latency targets) but WER +2.3, 39 %. Simulated on the shared machine (``--simulate``):
    1.0 s without the anchor 2.31/4.00 s, +1.59; 0.75 s 2.45/4.32 s, +1.36, with the anchor 2.00/3.69 s,
    +1.81."""
    max_step_s: float = 4.0
    """The widest step: past it the processor decodes as fast as it can and reports how far behind it is."""
    trim_s: float = 8.0
    """A buffer longer than this is cut at the end of its last committed sentence (buffers stayed ~3.5 s long
    in the measurements: pauses finalise and cut them first)."""
    context_s: float = 2.0
    """Committed audio kept before the buffer's start when it is cut (at a sentence end or a pause), so the next
    decodes hear the words before the new ones; the re-decoded words that fall before the commit point are
    dropped. A pause longer than ``MAX_CONTEXT_GAP_S`` drops the context (the engine would decode it apart).
    Simulated on the loaded machine (``benchmarks/live.py --seconds 180 --simulate``, 191 s, offline WER
    2.72 %, 15 s window, anchor 0.2, 1 s step), WER above offline: 0 s +2.04 and +2.95 (the CLI on the idle
    machine +2.04), 2 s +1.81, +1.36, +1.59, +2.04 and +1.81 (the runs' timing, hence their buffers, differs),
    3 s +3.63 and +3.40. With a modelled decode cost instead of the CPU time, so that runs differ only in the
    option (an earlier revision): 0 s and 1 s +2.95, 2 s +2.04; on 150 s of the other clips (offline 10.0 %)
    0 s +1.67, 2 s +1.33. Latency and CPU: 2 s 1.97/3.18, 2.06/3.33 and 2.04/2.88 s median/p90, but 2.10/4.41
    and 2.18/4.25 s in two runs where its slower decodes (0.6 CPU s against 0.5, both threads counted as wall
    time) widened the step, 0.57-0.65 CPU s per audio s; 0 s 2.05/3.43 and 1.88/2.64 s, 0.57-0.59. On
    tests/test_live.py's 27 s stream (1.5 s step, ``trim_s`` 6) 2 s turned 11.3 % WER into 5.6 % (offline
    1.4 %): "ill-disposed" and "unless" came out right once the words before them were heard."""
    max_buffer_s: float = 25.0
    """A buffer longer than this is cut at its last committed word (or its hypothesis is finalised)."""
    pause_s: float = 0.5
    """Silence after speech that finalises the hypothesis, as soon as it is heard (not at the next step).
    Measured as ``step_s``: 0.3 s 1.90/3.19 s but WER +2.49 (a finalised pause split "unless" into "I would
    less"), 0.4 s 2.13/3.78 s, +1.81 (both with a 0.75 s step and no anchor)."""
    anchor_s: float | None = 0.2
    """None: plain LocalAgreement-2. A number: also commit up to the last two consecutive words that the last
    two decodes both hold at the same times (within this many seconds), even where an earlier word changed
    (the newer decode's version is kept); see ``step_s`` for its effect. It did not cause the 27 s test stream's
    errors with a 15 s window (11.3 % WER with it, 7.0 % without, on a loaded machine): those were short
    buffers' decodes that two decodes agreed on ("A less" for "Unless"), which ``context_s`` halves."""
    window_s: float | None = 15.0
    """None: Whisper's 30 s encoder window; a number: the shortest window a buffer is padded to (a longer one
    gets its own length plus 2 s). With ``context_s`` 2 and the anchor (simulated, loaded machine, 191 s):
    15 s 1.91-2.06/2.77-3.33 s, 0.57-0.60 CPU s per audio s; 20 s 2.31/3.92 s, WER +1.59, 0.69; 30 s
    2.87/4.45 s, +2.49, 0.73. Through the CLI on the idle machine (191 s, 1 s step): 30 s 3.61/5.95 s
    median/p90 latency, WER +0.7, 50 % CPU; 15 s 2.35/3.75 s, +1.6, 44 %. Shorter windows hallucinate (78 s,
    0.6 s step, simulated): 10 s WER +5.9, 8 s +12.4, and buffer-length windows (0) run decodes to 224
    tokens on short buffers (p90 8.8 s)."""
    max_chunk_s: float = 60.0
    """The most audio one ``feed`` call may carry."""
    vad: VadOptions = field(default_factory=VadOptions)

    def __post_init__(self) -> None:
        """Refuse an option outside :data:`LIMITS` as :class:`InvalidArgumentError`, before any audio is fed."""
        for name, limit in LIMITS.items():
            value = getattr(self, name)
            problem = None if value is None else limit.problem(value, self)
            if problem:
                raise InvalidArgumentError(f"live option {name}={value!r}: {problem}")

    @classmethod
    def of(cls, window_s: float | None = None, step_s: float | None = None, pause_s: float | None = None,
           anchor_s: float | None = None, context_s: float | None = None) -> "LiveOptions":
        """The defaults with the timing options a caller sets (CLI ``listen``, the live tools) given, None for
        the default; a 30 s window is Whisper's own (None), an anchor of 0 is plain LocalAgreement-2 (None)."""
        given = {"window_s": window_s, "step_s": step_s, "pause_s": pause_s, "anchor_s": anchor_s,
                 "context_s": context_s}
        changes = {k: v for k, v in given.items() if v is not None}
        if changes.get("window_s") == ENCODER_WINDOW_S:
            changes["window_s"] = None
        if changes.get("anchor_s") == 0:
            changes["anchor_s"] = None
        return replace(cls(), **changes)


def timing_arg(name: str) -> Any:
    """The live option ``name`` as a tool argument: seconds or None (the default), its bounds and ``about`` in
    the JSON Schema the caller sees (a bound set by another option is that option's default)."""
    limit = LIMITS[name]
    high = limit.cap()
    bounds: dict[str, float] = {"ge" if limit.low_ok else "gt": limit.low}
    if math.isfinite(high):
        bounds["le"] = high
    return Annotated[float | None, Field(allow_inf_nan=False, description=limit.about, **bounds)]


WindowArg = timing_arg("window_s")
StepArg = timing_arg("step_s")
PauseArg = timing_arg("pause_s")
AnchorArg = timing_arg("anchor_s")
ContextArg = timing_arg("context_s")
"""The timing options (:meth:`LiveOptions.of`) as the live tools' arguments."""


@dataclass
class LiveUpdate:
    """What one ``feed`` (or ``finish``) changed: segments now final, and the partial tail that may change."""

    final: list[Segment] = field(default_factory=list)
    partial: list[Segment] = field(default_factory=list)


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
    behind_s: float = 0.0
    """Audio that had waited for decoding beyond one step when the last decode started."""
    lagging: bool = False
    """True while decodes take longer than the base step (the step is widened)."""


def _norm(word: str) -> str:
    return _NORMAL.sub("", word.lower())


class HypothesisBuffer:
    """LocalAgreement-2 over word hypotheses in stream time: words both of the last two decodes begin with
    are committed (optionally also up to words both hold at the same times, see :meth:`insert`); committed
    words never change."""

    def __init__(self) -> None:
        self.committed: list[Word] = []
        self.hypothesis: list[Word] = []
        self.last_committed_end = 0.0

    def _fresh(self, words: Sequence[Word]) -> list[Word]:
        """Words of a decode that follow what is committed: later than the last committed word, and without
        the committed tail a re-decoded buffer repeats (up to five words). Telling that tail by time alone where
        the buffer starts well before the commit point (so that "words words words" keeps its repeats) cost
        about 0.5 WER points on 191 s of speech (simulated, loaded machine; without ``context_s`` +2.49 in three
        runs against +2.04, with 2 s +1.59 to +2.49 against +1.36 and +1.81)."""
        new = [w for w in words if w.start > self.last_committed_end - 0.1]
        if new and self.committed and abs(new[0].start - self.last_committed_end) < 1.0:
            for n in range(min(5, len(new), len(self.committed)), 0, -1):
                tail = [_norm(w.word) for w in self.committed[-n:]]
                if tail == [_norm(w.word) for w in new[:n]]:
                    return new[n:]
        return new

    def insert(self, words: Sequence[Word], anchor_s: float | None = None) -> list[Word]:
        """Take a new decode; return the words it commits: the common prefix with the previous decode. With
        ``anchor_s``, also everything up to the last two words in a row that both decodes hold at the same times
        (within ``anchor_s``), even where a word before them changed (the new decode's version of it is kept)."""
        new = self._fresh(words)
        agreed = 0
        while (agreed < min(len(new), len(self.hypothesis))
               and _norm(new[agreed].word) == _norm(self.hypothesis[agreed].word)):
            agreed += 1
        if anchor_s is not None:
            agreed = max(agreed, self._anchored(new, anchor_s))
        done, self.hypothesis = new[:agreed], new[agreed:]
        return self._commit(done)

    def _anchored(self, new: Sequence[Word], tolerance: float) -> int:
        """How many words of ``new`` end with two consecutive words the previous hypothesis also holds, in a
        row, at the same start and end times (within ``tolerance``); 0 if none."""
        def same(a: Word, b: Word) -> bool:
            return (_norm(a.word) == _norm(b.word) and abs(a.start - b.start) <= tolerance
                    and abs(a.end - b.end) <= tolerance)
        old = self.hypothesis
        for j in range(len(new) - 1, 0, -1):
            if any(same(new[j], old[i]) and same(new[j - 1], old[i - 1]) for i in range(1, len(old))):
                return j + 1
        return 0

    def flush(self) -> list[Word]:
        """Commit the whole hypothesis (at a pause, or at the end of the stream)."""
        done, self.hypothesis = self.hypothesis, []
        return self._commit(done)

    def _commit(self, words: list[Word]) -> list[Word]:
        if words:
            self.committed.extend(words)
            self.last_committed_end = max(self.last_committed_end, words[-1].end)
        return words


def words_to_segments(words: Sequence[Word]) -> list[Segment]:
    """Segments of consecutive words, split after each sentence end."""
    out: list[list[Word]] = [[]]
    for w in words:
        out[-1].append(w)
        if _SENTENCE_END.search(w.word.strip()):
            out.append([])
    return [Segment(start=g[0].start, end=max(g[-1].end, g[0].start),
                    text="".join(w.word for w in g).strip(), words=list(g)) for g in out if g]


def as_float_samples(samples: np.ndarray, label: str = LIVE_SOURCE) -> np.ndarray:
    """16 kHz mono samples as float32 in [-1, 1]: float arrays as they are, int16 scaled; anything else, more
    than one channel, or non-finite values raise :class:`InvalidSamplesError`."""
    array = np.asarray(samples)
    if array.ndim != 1:
        raise InvalidSamplesError(label, f"live audio must be mono 1-D samples, got shape {array.shape}")
    if array.dtype == np.int16:
        return array.astype(np.float32) / 32768.0
    if array.dtype not in (np.float32, np.float64):
        raise InvalidSamplesError(label, f"live audio must be float32 or int16 samples, got {array.dtype}")
    array = array.astype(np.float32, copy=False)
    if not np.isfinite(array).all():
        raise InvalidSamplesError(label, "the chunk holds NaN or infinite samples")
    return array


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
    return twin


class OnlineProcessor:
    """Streams 16 kHz mono audio through ``engine``: :meth:`feed` returns what became final and the partial
    tail; :meth:`finish` finalises the rest. Not thread-safe: the session serialises callers."""

    def __init__(self, engine: LiveEngine, options: LiveOptions | None = None) -> None:
        self.options = options or LiveOptions()
        self.engine = streaming_engine(engine, self.options.window_s)
        self.transcription = TranscribeOptions()  # a session's language and task; a detected language is kept
        self.words = HypothesisBuffer()
        self.stats = LiveStats(step_s=self.options.step_s)
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
        stream is detected once and never switches language between two decodes of the same words."""
        if self.transcription.is_default and not hasattr(self.engine, "check_options"):
            return self.engine.transcribe_clips([clip])[0]
        transcript = self.engine.transcribe_clips([clip], options=self.transcription)[0]  # type: ignore[call-arg]
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
        CPU s; simulated, loaded machine, defaults: p90 latency 4.41 s with 0.5, 2.88 s with 0.7)."""
        s, o = self.stats, self.options
        s.decodes += 1
        s.last_decode_s = round(spent, 3)
        s.decode_total_s = round(s.decode_total_s + spent, 3)
        if spent > 0.9 * s.step_s:
            s.step_s = min(o.max_step_s, round(spent * 1.25, 2))
        elif spent < 0.7 * s.step_s:
            s.step_s = max(o.step_s, round(s.step_s * 0.8, 2))
        s.lagging = spent > o.step_s or s.behind_s > 0

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
        ends = [w.end for w in inside if _SENTENCE_END.search(w.word.strip())
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


def decode_chunk(data: bytes, fmt: str = "s16le", label: str = LIVE_SOURCE) -> np.ndarray:
    """Bytes of one live chunk as float32 samples: raw ``s16le`` 16 kHz mono, or a ``wav`` file of 16 kHz mono.

    An odd byte count, another rate or channel count, or an unknown format raise a typed error."""
    if fmt == "s16le":
        if len(data) % 2:
            raise InvalidSamplesError(label, f"{len(data)} bytes is not a whole number of 16-bit samples")
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    if fmt == "wav":  # not load_audio: a chunk of silence, or shorter than a word, is fine live
        import io

        import soundfile as sf

        try:
            samples, rate = sf.read(io.BytesIO(bytes(data)), dtype="float32", always_2d=True)
        except (RuntimeError, sf.LibsndfileError) as exc:
            raise CorruptAudioError(label, f"not a readable WAV chunk ({exc})") from exc
        if rate != SAMPLE_RATE or samples.shape[1] != 1:
            raise InvalidSamplesError(label, f"live WAV chunks must be 16 kHz mono, got {rate} Hz with "
                                             f"{samples.shape[1]} channel(s)")
        return samples[:, 0]
    raise InvalidSamplesError(label, f"unknown chunk format {fmt!r}; use 's16le' or 'wav'")


MAX_BASE64_CHARS = 4 * 1024 * 1024  # a minute of s16le (1.92 MB) is 2.56 M characters


def decode_base64_chunk(text: str, fmt: str = "s16le") -> np.ndarray:
    """A base64 chunk (as tools receive audio) as float32 samples; see :func:`decode_chunk`."""
    import base64
    import binascii

    from aero_agent.errors import InvalidArgumentError

    if len(text) > MAX_BASE64_CHARS:
        raise AudioTooLargeError(LIVE_SOURCE, f"{len(text)} base64 characters is over the {MAX_BASE64_CHARS} "
                                              "one chunk may carry; send shorter chunks")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidArgumentError(f"audio_base64 is not valid base64 ({exc})") from exc
    return decode_chunk(data, fmt)
