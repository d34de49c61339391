"""What of a recording is decoded, and how it is cut into windows of at most 30 s.

Speech comes from the voice activity detector (:mod:`aero_agent.vad`): its regions are grouped into windows,
and inside a window every long stretch outside them is silenced, so the decoder never hears music or noise
as if it were speech. Sound that the detector rejects (whispered or hoarse voices, and also music and noise)
is found by its level and decoded in windows of its own, which the guards then keep or drop. Sound left
without words becomes a non-speech event; silence stays silence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aero_agent.engines.whisper.features import SAMPLE_RATE
from aero_agent.vad import FRAME as VAD_FRAME, Region, VadOptions, speech_regions

LEVEL_FRAME = 160  # 10 ms frames for sound levels


@dataclass(frozen=True)
class SoundOptions:
    """How sound is told from silence, and which stretches are decoded besides the detector's speech."""

    level_db: float = -45.0
    """A 10 ms frame louder than this (dB full scale) carries sound."""
    min_doubtful_s: float = 1.0
    """Sound outside speech regions at least this long is decoded too (and kept only if the guards accept it)."""
    min_event_s: float = 1.0
    """Sound left without words at least this long becomes a non-speech event."""
    bridge_s: float = 0.3
    """Shorter quiet moments inside sound do not end it."""
    tail_s: float = 0.5
    """A speech window runs on up to this far over sound that continues past its last speech (never into the
    next window, never past 30 s): the detector ends regions before soft word endings and falsetto, which Whisper
    then never hears (see :meth:`SpeechMap._tailed`)."""
    anchor_s: float | None = 0.7
    """A speech window starts this long before the first sound of its first region, found to the sample (see
    :meth:`SpeechMap._onset`), so the same speech lands on the same samples of its window wherever the recording
    cuts it (None: ``lead_s`` before the detector's region, on its 32 ms grid)."""


@dataclass(frozen=True)
class Window:
    """A stretch of a recording to decode (samples); ``doubtful`` (and not ``has_speech``) when it is sound the
    detector did not take for speech."""

    start: int
    end: int
    has_speech: bool = True
    doubtful: bool = False

    @property
    def duration_s(self) -> float:
        return (self.end - self.start) / SAMPLE_RATE


def _runs(mask: np.ndarray, bridge: int) -> list[tuple[int, int]]:
    """(start, end) index runs where ``mask`` holds, joining runs separated by fewer than ``bridge`` frames."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    runs: list[tuple[int, int]] = []
    for a, b in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]):
        if runs and a - runs[-1][1] < bridge:
            runs[-1] = (runs[-1][0], int(b))
        else:
            runs.append((int(a), int(b)))
    return runs


def _frame_power(samples: np.ndarray, block: int = 6000) -> np.ndarray:
    """Mean power of each 10 ms frame, a minute of frames at a time (a float64 copy of hours of samples
    would need eight bytes for each of them)."""
    frames = len(samples) // LEVEL_FRAME
    view = samples[: frames * LEVEL_FRAME].reshape(frames, LEVEL_FRAME)
    power = np.empty(frames, dtype=np.float64)
    for a in range(0, frames, block):
        part = view[a: a + block].astype(np.float64)
        power[a: a + block] = np.mean(part * part, axis=1)
    return power


def _subtract(spans: list[tuple[int, int]], holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Parts of ``spans`` outside every one of ``holes`` (all sorted (start, end) pairs)."""
    out = []
    for a, b in spans:
        cursor = a
        for lo, hi in holes:
            if hi <= cursor or lo >= b:
                continue
            if lo > cursor:
                out.append((cursor, lo))
            cursor = max(cursor, hi)
        if cursor < b:
            out.append((cursor, b))
    return out


def _longest_pause(group: list[tuple[int, int]], next_start: int, min_len: int) -> int:
    """Index of the piece of ``group`` after which the longest pause follows (``next_start``: where the piece
    after the group begins), among cuts that leave a window of at least ``min_len`` samples (the last piece
    when none does; the latest of equal pauses). A window ending in a short pause would end on the edge of a
    phrase, where Whisper drops, repeats or invents words: on 15 min of joined speech, cutting at the last
    pause before 30 s gave 7.2 % WER, at the longest pause after 24 s 7.6 %, after 20 s 6.9 %, after 15 s
    6.3 % (3 more windows)."""
    pauses = [following - end for (_, end), following in zip(group, [a for a, _ in group[1:]] + [next_start])]
    allowed = [k for k, (_, end) in enumerate(group) if end - group[0][0] >= min_len]
    if not allowed:
        return len(group) - 1
    longest = max(pauses[k] for k in allowed)
    return max(k for k in allowed if pauses[k] == longest)


class SpeechMap:
    """One recording's speech regions (from the detector's probabilities) and sound (from frame levels)."""

    def __init__(self, samples: np.ndarray, probs: np.ndarray, vad: VadOptions = VadOptions(),
                 sound: SoundOptions = SoundOptions()) -> None:
        self.n = len(samples)
        self.samples = samples  # not copied: read for the windows' onsets (see :meth:`_onset`)
        self.probs = probs
        self.regions: list[Region] = speech_regions(probs, self.n, vad)
        self.options = sound
        self.loud = 10.0 * np.log10(_frame_power(samples) + 1e-10) > sound.level_db
        bridge = int(sound.bridge_s * SAMPLE_RATE / LEVEL_FRAME)
        self.sound = [(a * LEVEL_FRAME, b * LEVEL_FRAME) for a, b in _runs(self.loud, bridge)]

    @property
    def spans(self) -> list[tuple[int, int]]:
        return [(r.start, r.end) for r in self.regions]

    def speech_windows(self, max_s: float = 30.0, min_s: float = 15.0, max_gap_s: float = 3.0) -> list[Window]:
        """Consecutive speech regions grouped into windows of at most ``max_s``; a pause over ``max_gap_s``
        starts a new window, a window that would grow past ``max_s`` ends at its longest pause that leaves it
        ``min_s`` or more, and a region too long for one is cut at its least speech-like frame."""
        max_len, min_len, max_gap = int(max_s * SAMPLE_RATE), int(min_s * SAMPLE_RATE), int(max_gap_s * SAMPLE_RATE)
        pieces: list[tuple[int, int]] = []
        for r in self.regions:
            start = r.start
            while r.end - start > max_len:
                cut = self._quietest(start + min_len, start + max_len)
                pieces.append((start, cut))
                start = cut
            pieces.append((start, r.end))
        windows: list[Window] = []
        group: list[tuple[int, int]] = []
        for a, b in pieces:
            if group and a - group[-1][1] > max_gap:
                windows.append(Window(group[0][0], group[-1][1]))
                group = []
            while group and b - group[0][0] > max_len:
                cut = _longest_pause(group, a, min_len)
                windows.append(Window(group[0][0], group[cut][1]))
                group = group[cut + 1:]
            group.append((a, b))
        if group:
            windows.append(Window(group[0][0], group[-1][1]))
        return self._lead_in(windows, max_len)

    def _lead_in(self, windows: list[Window], max_len: int, lead_s: float = 0.5) -> list[Window]:
        """Windows started up to ``lead_s`` before their first speech (never inside the previous window, never
        beyond ``max_len`` samples): Whisper places a window's first words best with a moment of audio before them.
        With ``anchor_s``, a window whose first region opens on a rise of sound starts ``anchor_s`` before that
        rise, to the sample: Whisper's log-mel frames (10 ms) and the detector's (32 ms) then fall on the same
        samples of the speech however the recording is shifted, and tiny.en reads it alike (see BENCHMARKS.md,
        "Shifts"). (Letting the first window start before the recording, on silence, did not steady the shift test of
        benchmarks/joins.py: with the speech at the very start, 4 errors against 3 of 51 words.)"""
        anchor = self.options.anchor_s
        out, previous_end = [], 0
        for w in windows:
            onset = None if anchor is None else self._onset(w.start)
            start = w.start - int(lead_s * SAMPLE_RATE) if onset is None else onset - int(anchor * SAMPLE_RATE)
            out.append(Window(max(previous_end, min(start, w.start), w.end - max_len), w.end))
            previous_end = w.end
        return out

    def _onset(self, start: int, ahead_s: float = 0.6, frame: int = LEVEL_FRAME, over_floor_db: float = 10.0,
               step_db: float = 6.0) -> int | None:
        """The first sample after ``start`` (within ``ahead_s``) where the power of the ``frame`` samples from it
        rises above a threshold, measured at every sample (so it moves with the audio, not with a frame grid);
        None when the sound is already above it at ``start`` or never rises. The threshold is ``level_db``, or
        ``over_floor_db`` above the quietest frame there when that is louder (speech over a noise floor), raised
        in steps of ``step_db`` so that the same audio seen from a few ms apart gets the same threshold. (On the
        tuning half's shift test, ``level_db`` alone read 4.19 % WER, this 4.33 %, both spread 0.96 over 10
        offsets; ``level_db`` alone leaves every window whose speech rises from a floor louder than it on the
        detector's grid, as tests/test_joins.py's fleurs clip.)"""
        end = min(self.n, start + int(ahead_s * SAMPLE_RATE))
        x = np.asarray(self.samples[start:end], dtype=np.float64)
        if len(x) <= frame + 1:
            return None
        energy = np.concatenate([[0.0], np.cumsum(x * x)])
        level = 10.0 * np.log10(np.maximum((energy[frame:] - energy[:-frame]) / frame, 0.0) + 1e-10)
        base = self.options.level_db
        threshold = base + step_db * max(0.0, float(np.ceil((level.min() + over_floor_db - base) / step_db)))
        above = level > threshold
        rises = np.nonzero(above[1:] & ~above[:-1])[0]
        return None if above[0] or len(rises) == 0 else start + int(rises[0]) + 1

    def _quietest(self, lo: int, hi: int) -> int:
        a, b = lo // VAD_FRAME, max(lo // VAD_FRAME + 1, hi // VAD_FRAME)
        return (a + int(np.argmin(self.probs[a:b]))) * VAD_FRAME

    def doubtful_windows(self, max_s: float = 30.0) -> list[Window]:
        """Sound outside speech regions, long enough to hold words: decoded, and kept only if guards accept it."""
        max_len, min_len = int(max_s * SAMPLE_RATE), int(self.options.min_doubtful_s * SAMPLE_RATE)
        out = []
        speech = self.speech_windows()  # their lead-ins and tails are decoded with them
        edges = [(w.start, w.start + int(0.5 * SAMPLE_RATE)) for w in speech]
        edges += [(w.end, tailed.end) for w, tailed in zip(speech, self._tailed(speech))]
        for a, b in _subtract(self.sound, sorted(self.spans + edges)):
            if b - a < min_len:
                continue
            for lo in range(a, b, max_len):
                out.append(Window(lo, min(b, lo + max_len), has_speech=False, doubtful=True))
        return out

    def windows(self) -> list[Window]:
        """Every window to decode: speech (each running on over the sound after its last speech, see
        :meth:`_tailed`) first, then doubtful sound, each in time order."""
        return self._tailed(self.speech_windows()) + self.doubtful_windows()

    def _tailed(self, windows: list[Window], max_s: float = 30.0) -> list[Window]:
        """Speech windows run on over the sound that goes on past their last speech (sound starting within
        ``bridge_s`` of their end), up to ``tail_s`` more, never into the next window nor past ``max_s``; silence
        after speech adds nothing to hear, and a longer window alone moves Whisper's timestamps and words.
        Measured on the tuning half's short clips: the detector ended "I really don't know how people talk like
        this" (falsetto) at "how" and "whispered" before its "-ed"; faster-whisper, which decodes whole clips,
        heard both. (A tail of 0.5 s into whatever follows, silence too, read the tuning half's short clips
        alike, 5.52 % WER, and its shift test at 4.38 % (spread 1.92) against 4.18 % (spread 3.37), but the
        checking half's three-clip shift test of tests/test_joins.py at [6, 3, 1, 1] errors against [3, 3, 1, 1].)"""
        tail, max_len = int(self.options.tail_s * SAMPLE_RATE), int(max_s * SAMPLE_RATE)
        bridge = int(self.options.bridge_s * SAMPLE_RATE)
        starts = [w.start for w in windows[1:]] + [self.n]
        out = []
        for w, following in zip(windows, starts):
            end = w.end
            for a, b in self.sound:  # in time order: each run that starts by the end so far carries it on
                if a <= end + bridge and b > end:
                    end = b
            out.append(Window(w.start, max(w.end, min(end, w.end + tail, following, w.start + max_len)),
                              w.has_speech, w.doubtful))
        return out

    def window_audio(self, samples: np.ndarray, window: Window) -> np.ndarray:
        """The window's samples with stretches outside speech regions silenced (doubtful windows: as they are);
        short pauses stay as they are, so words at their edges keep their sound."""
        audio = np.array(samples[window.start: window.end], dtype=np.float32)
        if window.doubtful:
            return audio
        min_gap = int(self.options.min_doubtful_s * SAMPLE_RATE)
        for a, b in _subtract([(window.start, window.end)], self.spans):
            if b - a >= min_gap:
                audio[a - window.start: b - window.start] = 0.0
        return audio

    def last_speech_s(self, window: Window) -> float:
        """Seconds from the window's start to the end of its last speech region (0 when it has none: the
        decoder is then never pushed to go on, which in music or noise would only invite hallucinations)."""
        ends = [min(r.end, window.end) for r in self.regions if r.start < window.end and r.end > window.start]
        return (max(ends) - window.start) / SAMPLE_RATE if ends else 0.0

    def uncovered_speech(self, window: Window, covered: list[tuple[float, float]], min_speech_s: float = 0.4,
                         margin_s: float = 0.2) -> list[Window]:
        """Speech of ``window`` that no transcribed span (seconds) covers: what the decoder skipped.

        Each gap runs from the end of one transcribed span to the start of the next (or the window's edge), so
        re-decoding it cannot clip a word that the first pass placed correctly."""
        if window.doubtful:
            return []
        edges = [window.start / SAMPLE_RATE] + [t for span in sorted(covered) for t in span] + [window.end / SAMPLE_RATE]
        gaps = []
        for lo_s, hi_s in zip(edges[0::2], edges[1::2]):
            lo, hi = int((lo_s + margin_s) * SAMPLE_RATE), int((hi_s - margin_s) * SAMPLE_RATE)
            if hi - lo <= min_speech_s * SAMPLE_RATE:
                continue
            speech = sum(min(hi, r.end) - max(lo, r.start) for r in self.regions if r.start < hi and r.end > lo)
            if speech >= min_speech_s * SAMPLE_RATE:
                gaps.append(Window(max(window.start, int(lo_s * SAMPLE_RATE)), min(window.end, int(hi_s * SAMPLE_RATE))))
        return gaps

    def events(self, covered: list[tuple[float, float]]) -> list[tuple[float, float]]:
        """Stretches of sound (seconds) that no transcribed span covers and that last ``min_event_s`` or more."""
        holes = sorted((int(a * SAMPLE_RATE), int(b * SAMPLE_RATE)) for a, b in covered)
        min_len = int(self.options.min_event_s * SAMPLE_RATE)
        return [(a / SAMPLE_RATE, b / SAMPLE_RATE) for a, b in _subtract(self.sound, holes) if b - a >= min_len]

    def snap(self, start: float, end: float) -> tuple[float, float]:
        """A word's times moved off the silence around it: never before the first speech region it overlaps
        nor after the last (a word outside every region stays as it is)."""
        touched = [r for r in self.regions if r.start_s < end and start < r.end_s]
        if not touched:
            return start, end
        return max(start, touched[0].start_s), min(end, touched[-1].end_s)
