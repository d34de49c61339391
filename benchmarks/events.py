"""Sound events: frame-level precision and recall per kind on recordings built from ``../shared/speech``.

For each half of ``benchmarks/split.json`` three recordings are built from that half's clips, with every part in a
known place (10 ms frames):

    music 10 s | 2 s silence | speech | 1.5 s | other sound | 1.5 s | speech over music (music 12 dB under the
    voice) | 2 s | speech | 1 s | music 8 s

Music is the half's music clips (tuning: the trumpet loop; checking: Brahms and the vibraphone), other sound the
half's other non-speech clips (tuning: bird, whale, background noise; checking has none) and, in both halves,
generated pink noise. A reference frame is music (or sound) where its source is louder than -50 dBFS; speech is the
whole span of a speech clip; under a voice, music is where the music clip is louder than -50 dBFS at its own
level (so its quiet passages stay music when it is mixed 12 dB under). The recordings go through the whole pipeline (``WhisperEngine.transcribe_clips``), and
the transcript's events and segments are scored:

* music / sound: precision and recall over frames (music recall also on the mixed frames alone);
* ``speech->music-only``: share of speech frames without music under them that an event calls music and no
  segment covers (target <= 2 %); music targets: recall >= 0.9 at precision >= 0.9.

The pipeline's detector probes (``aero_agent.sound_events.ProbeOptions``); ``--full-pass`` runs it on every frame
instead. ``--sweep`` also scores the music threshold from the detector's probabilities alone (no decoding), on both halves,
to choose it on the tuning half. ``--podcast`` adds the podcast-like join of ``aero_agent.evaluation``: music
found where it is, and the WER of the join next to its speech clips transcribed alone.

``--phases`` scores the detector alone, probed with ``ProbeOptions`` and each ``--vary`` variant, against its
full pass, with 0 to 12 s of silence put in front (so the probes fall elsewhere): how settings are chosen.

``--cost-minutes 15`` instead times a transcription of joined speech that long with and without the event pass
(alternated, the same engine), and the detector alone: its full pass and its probes (the voice detector's
regions given, as the pipeline runs it), alternated.

    python benchmarks/events.py [--sweep] [--podcast] [--full-pass] [--json out.json]
    python benchmarks/events.py --phases [--vary context_s=0.5 ...]
    flock /work/coord/bench.lock python benchmarks/events.py --cost-minutes 15 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_SPEECH_DIR, header_lines, machine_info, table, write_json  # noqa: E402
from split import HALVES, load_split  # noqa: E402

RATE = 16_000
HOP = 160  # 10 ms frames
MUSIC_UNDER_DB = 12.0


@dataclass
class Built:
    """A built recording with its reference frames."""

    name: str
    samples: np.ndarray
    speech: np.ndarray
    music: np.ndarray
    sound: np.ndarray
    reference_text: list[str] = field(default_factory=list)


def _rows(speech_dir: Path) -> dict[str, dict]:
    return {r["id"]: r for r in (json.loads(line) for line in (speech_dir / "manifest.jsonl").read_text().splitlines()
                                 if line.strip())}


def _load(speech_dir: Path, row: dict) -> np.ndarray:
    from aero_agent.audio import load_audio

    return load_audio(speech_dir / row["path"]).samples.astype(np.float32)


def _loud(samples: np.ndarray, level_db: float = -50.0) -> np.ndarray:
    frames = len(samples) // HOP
    power = np.mean(samples[: frames * HOP].reshape(frames, HOP).astype(np.float64) ** 2, axis=1)
    return 10 * np.log10(power + 1e-12) > level_db


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-9)


def pink_noise(seconds: float, seed: int, level: float = 0.05) -> np.ndarray:
    """Pink (1/f) noise, seeded: an "other sound" for both halves."""
    n = int(seconds * RATE)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    noise = np.fft.irfft(spectrum, n)
    return (level * noise / _rms(noise)).astype(np.float32)


class _Builder:
    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []
        self.labels: list[tuple[str, np.ndarray]] = []  # per piece: which reference kinds, per frame

    def add(self, samples: np.ndarray, speech: bool = False, music: np.ndarray | None = None,
            sound: bool = False) -> None:
        """A piece; ``music``: the music in it at its source level (quiet passages under a voice stay music)."""
        samples = samples[: len(samples) // HOP * HOP]
        frames = len(samples) // HOP
        loud = _loud(samples)
        self.parts.append(samples)
        self.labels.append(("speech", np.full(frames, speech)))
        self.labels.append(("music", _loud(music[: len(samples)]) if music is not None else np.zeros(frames, bool)))
        self.labels.append(("sound", loud if sound else np.zeros(frames, bool)))

    def silence(self, seconds: float) -> None:
        self.add(np.zeros(int(seconds * RATE), np.float32))

    def build(self, name: str, texts: list[str]) -> Built:
        by_kind = {k: np.concatenate([v for kk, v in self.labels if kk == k]) for k in ("speech", "music", "sound")}
        return Built(name, np.concatenate(self.parts), by_kind["speech"], by_kind["music"], by_kind["sound"], texts)


def build_recordings(speech_dir: Path, half: str) -> list[Built]:
    """Three recordings of the half's clips, in the layout of the module's docstring."""
    split, rows = load_split(), _rows(speech_dir)
    speech_ids = [i for i in split[f"speech_{half}"] if 3.0 <= rows[i]["duration_s"] <= 20.0][:9]
    nonspeech = split[f"nonspeech_{half}"]
    music_ids = [i for i in nonspeech if rows[i]["label"] == "music"]
    sound_ids = [i for i in nonspeech if rows[i]["label"] != "music"]
    out = []
    for k in range(3):
        b = _Builder()
        music = [np.resize(_load(speech_dir, rows[music_ids[(k + j) % len(music_ids)]]), s * RATE)
                 for j, s in ((0, 10), (1, 30), (2, 8))]
        a, m, c = (rows[speech_ids[(3 * k + j) % len(speech_ids)]] for j in range(3))
        sound = (np.resize(_load(speech_dir, rows[sound_ids[k % len(sound_ids)]]), 4 * RATE)
                 if sound_ids and k < 2 else pink_noise(4.0, seed=k))
        b.add(music[0], music=music[0])
        b.silence(2.0)
        b.add(_load(speech_dir, a), speech=True)
        b.silence(1.5)
        b.add(sound, sound=True)
        b.silence(1.5)
        voice = _load(speech_dir, m)
        under = music[1][: len(voice)] * (_rms(voice) / _rms(music[1][: len(voice)])) * 10 ** (-MUSIC_UNDER_DB / 20)
        b.add(voice + under, speech=True, music=music[1][: len(voice)])
        b.silence(2.0)
        b.add(_load(speech_dir, c), speech=True)
        b.silence(1.0)
        b.add(music[2], music=music[2])
        out.append(b.build(f"{half}-{k}", [a["text"], m["text"], c["text"]]))
    return out


def _mask(spans: list[tuple[float, float]], frames: int) -> np.ndarray:
    mask = np.zeros(frames, bool)
    for a, b in spans:
        mask[int(round(a * 100)): int(round(b * 100))] = True
    return mask


@dataclass
class Counts:
    """Frame counts summed over recordings."""

    values: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, value: np.ndarray | int) -> None:
        self.values[name] = self.values.get(name, 0) + int(np.sum(value))

    def ratio(self, a: str, b: str) -> float:
        return self.values.get(a, 0) / self.values[b] if self.values.get(b) else float("nan")


def score(built: Built, transcript, counts: Counts) -> None:
    """Add one recording's frame counts (transcript segments and events against the reference)."""
    n = len(built.speech)
    speech = _mask([(s.start, s.end) for s in transcript.segments], n)
    for kind in ("music", "sound"):
        pred = _mask([(e.start, e.end) for e in transcript.events if e.kind == kind], n)
        ref = getattr(built, kind)
        counts.add(f"{kind}_tp", pred & ref)
        counts.add(f"{kind}_pred", pred)
        counts.add(f"{kind}_ref", ref)
        if kind == "music":
            counts.add("mixed_tp", pred & ref & built.speech)
            counts.add("mixed_ref", ref & built.speech)
            speech_only = built.speech & ~built.music
            counts.add("speech_only", speech_only)
            counts.add("speech_music_only", speech_only & pred & ~speech)
    counts.add("speech_tp", speech & built.speech)
    counts.add("speech_ref", built.speech)


def summary(counts: Counts) -> dict[str, float]:
    r = counts.ratio
    return {"music P": r("music_tp", "music_pred"), "music R": r("music_tp", "music_ref"),
            "music R mixed": r("mixed_tp", "mixed_ref"), "speech->music-only": r("speech_music_only", "speech_only"),
            "sound P": r("sound_tp", "sound_pred"), "sound R": r("sound_tp", "sound_ref"),
            "speech R (segments)": r("speech_tp", "speech_ref")}


def sweep(recordings: dict[str, list[Built]], detector) -> list[list]:
    """Music precision/recall (and speech frames called music) from the detector alone, per threshold (alone, and
    where the detector also hears speech)."""
    from dataclasses import replace

    probs = {h: [detector.probabilities(b.samples) for b in bs] for h, bs in recordings.items()}
    rows = []
    for threshold, under in ((0.3, 0.3), (0.4, 0.4), (0.5, 0.5), (0.6, 0.6), (0.7, 0.7), (0.5, 0.4), (0.5, 0.35),
                             (0.5, 0.3), (0.5, 0.25), (0.5, 0.2)):
        options = replace(detector.options, music_threshold=threshold, music_under_speech=under)
        row: list = [threshold, under]
        for half, built in recordings.items():
            c = Counts()
            for b, p in zip(built, probs[half]):
                _music_counts(b, p, options, 0, c)
            row += [c.ratio("tp", "pred"), c.ratio("tp", "ref"), c.ratio("mixed_tp", "mixed"), c.ratio("so_music", "so")]
        rows.append(row)
    return rows


def _music_counts(built: Built, probs: np.ndarray, options, shift: int, counts: Counts) -> None:
    """Add the detector-alone music counts of one recording, its probabilities ``probs`` computed with ``shift``
    frames of silence in front (dropped here)."""
    from aero_agent.sound_events import events_from_probabilities

    events = events_from_probabilities(probs, len(probs) * HOP / RATE, options)
    pred = _mask([(e.start, e.end) for e in events if e.kind == "music"], len(probs))[shift: shift + len(built.music)]
    counts.add("tp", pred & built.music)
    counts.add("pred", pred)
    counts.add("ref", built.music)
    counts.add("mixed_tp", pred & built.music & built.speech)
    counts.add("mixed", built.music & built.speech)
    counts.add("so", built.speech & ~built.music)
    counts.add("so_music", built.speech & ~built.music & pred)


def probe_phases(recordings: dict[str, list[Built]], engine, variants: dict[str, object],
                 shifts_s: tuple[float, ...] = (0.0, 3.0, 6.0, 9.0, 12.0)) -> list[list]:
    """The detector alone, probed with each :class:`ProbeOptions` variant against its full pass, with ``shifts_s``
    of silence put in front of every recording (so the probes fall elsewhere): per variant, half and shift, music
    P, R, R under speech, speech frames called music, the share of frames the model ran on, and whether the events
    equal the full pass's."""
    from aero_agent.sound_events import events_from_probabilities
    from aero_agent.threads import torch_threads

    detector = engine.sound_events
    rows = []
    for half, built in recordings.items():
        for shift_s in shifts_s:
            shift = int(shift_s * RATE) // HOP * HOP
            padded = [np.concatenate([np.zeros(shift, np.float32), b.samples]) for b in built]
            with torch_threads(1):
                speech = [engine.speech_map(x).spans for x in padded]
            full = [detector.probabilities(x) for x in padded]
            for name, probes in {"full pass": None, **variants}.items():
                counts, same, ran = Counts(), True, 0
                for b, x, s, f in zip(built, padded, speech, full):
                    if probes is None:
                        p = f
                    else:
                        detector.probes = probes
                        p = detector.probed_probabilities(x, s)
                        same &= (events_from_probabilities(p, len(x) / RATE, detector.options)
                                 == events_from_probabilities(f, len(x) / RATE, detector.options))
                    ran += int((p != 0).any(axis=1).sum())
                    _music_counts(b, p, detector.options, shift // HOP, counts)
                rows.append([name, half, shift_s, counts.ratio("tp", "pred"), counts.ratio("tp", "ref"),
                             counts.ratio("mixed_tp", "mixed"), counts.ratio("so_music", "so"),
                             ran / sum(len(f) for f in full), same])
                print(rows[-1], flush=True)
    return rows


def singing_on_unsung(detector, speech_dir: Path) -> dict[str, list]:
    """half -> (clip, seconds called singing) for every clip of the half (none of them is sung)."""
    rows, split, out = _rows(speech_dir), load_split(), {}
    for half in HALVES:
        found = []
        for clip_id in split[f"speech_{half}"] + split[f"nonspeech_{half}"]:
            seconds = sum(e.end - e.start for e in detector.detect(_load(speech_dir, rows[clip_id])) if e.kind == "singing")
            if seconds:
                found.append((clip_id, round(seconds, 2)))
        out[half] = found
    return out


def podcast(engine, speech_dir: Path) -> dict:
    """The podcast-like join: music found where it is, and WER joined vs its speech clips alone."""
    from aero_agent.audio import AudioClip
    from aero_agent.evaluation import PODCAST_PARTS, podcast_recording, word_error_rate

    rec = podcast_recording(speech_dir)
    transcript = engine.transcribe_clips([AudioClip(rec.samples, "podcast", RATE, 1)])[0]
    n = len(rec.samples) // HOP
    ref_music = np.zeros(n, bool)
    t = 0.0
    rows = _rows(speech_dir)
    for kind, clip_id, seconds in PODCAST_PARTS:
        length = seconds if seconds is not None else rows[clip_id]["duration_s"]
        if kind == "music":
            ref_music[int(t * 100): int((t + length) * 100)] = True
        t += length
    pred = _mask([(e.start, e.end) for e in transcript.events if e.kind == "music"], n)
    alone = [engine.transcribe_clips([AudioClip(rec.samples[int(a * RATE): int(b * RATE)], i, RATE, 1)])[0].text
             for i, a, b in rec.spans]
    joined = word_error_rate([rec.reference], [transcript.text]).wer
    separate = word_error_rate([rec.reference], [" ".join(alone)]).wer
    return {"music P": float((pred & ref_music).sum() / max(pred.sum(), 1)),
            "music R": float((pred & ref_music).sum() / max(ref_music.sum(), 1)),
            "WER joined": joined, "WER alone": separate,
            "events": [(e.kind, e.start, e.end) for e in transcript.events]}


def cost(engine, speech_dir: Path, minutes: float, rounds: int) -> dict:
    """Wall and CPU seconds (all threads of the process) of a ``minutes`` transcription with and without the
    event pass, runs alternated (the same engine, its detector switched off for the runs without), the CPU of the
    runs with events less the detector's own (its thread's: what running it beside the rest costs the rest), and
    the detector's own seconds on that audio, alone."""
    import time

    from _common import speech_recording

    from aero_agent.audio import AudioClip

    _, rec = speech_recording(speech_dir, minutes)
    clip = AudioClip(rec.samples, "long", RATE, 1)
    detector = engine.sound_events
    spent: list[float] = []  # the detector's own CPU seconds (its thread's) in a run with events

    def timed(method):
        def run(*args, **kwargs):
            start_cpu = time.thread_time()
            try:
                return method(*args, **kwargs)
            finally:
                spent.append(time.thread_time() - start_cpu)
        return run

    detector.probe, detector.detect = timed(detector.probe), timed(detector.detect)
    times: dict[str, list[float]] = {"with events": [], "without": []}
    cpu: dict[str, list[float]] = {"with events": [], "without": [], "with events, less the detector": []}
    for _ in range(rounds):
        for name in times:
            engine.sound_events = detector if name == "with events" else None
            spent.clear()
            start, start_cpu = time.perf_counter(), time.process_time()
            engine.transcribe_clips([clip])
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
            if name == "with events":
                cpu["with events, less the detector"].append(cpu[name][-1] - sum(spent))
    del detector.probe, detector.detect
    engine.sound_events = detector
    speech = engine.speech_map(rec.samples).spans
    alone: dict[str, list[float]] = {"full pass": [], "probed": []}
    for _ in range(rounds + 1):
        for name in alone:
            start_cpu = time.process_time()
            detector.detect(rec.samples, None if name == "full pass" else speech)
            alone[name].append(time.process_time() - start_cpu)
    med = {k: float(np.median(v)) for k, v in times.items()}
    med_cpu = {k: float(np.median(v)) for k, v in cpu.items()}
    return {"audio s": rec.duration_s, "wall runs": times, "cpu runs": cpu, "detector alone cpu runs": alone,
            "added wall": med["with events"] / med["without"] - 1.0,
            "added cpu": med_cpu["with events"] / med_cpu["without"] - 1.0,
            "added cpu besides the detector's own": med_cpu["with events, less the detector"] / med_cpu["without"] - 1.0,
            "detector alone cpu s": {k: float(np.median(v)) for k, v in alone.items()},
            "detector alone / transcription cpu": {k: float(np.median(v)) / med_cpu["without"]
                                                   for k, v in alone.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH_DIR)
    parser.add_argument("--sweep", action="store_true", help="music threshold from the detector alone")
    parser.add_argument("--podcast", action="store_true", help="the podcast-like join too")
    parser.add_argument("--cost-minutes", type=float, default=0.0,
                        help="only the cost: a transcription this long with and without events, alternated")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--full-pass", action="store_true",
                        help="run the event model on every frame (no probes), to compare with the default")
    parser.add_argument("--phases", action="store_true",
                        help="only the probes against the full pass, detector alone, at several probe phases")
    parser.add_argument("--vary", action="append", default=[], metavar="FIELD=VALUE",
                        help="with --phases: a ProbeOptions variant to compare too (repeatable), e.g. context_s=0.5")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    from aero_agent.audio import AudioClip
    from aero_agent.engines.whisper import WhisperEngine

    info = machine_info()
    print("\n".join(header_lines(info, "python benchmarks/events.py " + " ".join(argv or sys.argv[1:]))))
    engine = WhisperEngine()
    if args.full_pass:
        engine.sound_events.probes = None
    result: dict = {"machine": info}
    if args.cost_minutes:
        result["cost"] = cost(engine, args.speech_dir, args.cost_minutes, args.rounds)
        print("\nCost of the event pass:", result["cost"])
        write_json(args.json, result)
        return 0
    recordings = {half: build_recordings(args.speech_dir, half) for half in HALVES}
    if args.phases:
        from dataclasses import replace

        from aero_agent.sound_events import ProbeOptions

        variants = {"default": ProbeOptions()}
        for change in args.vary:  # e.g. "grow=2"
            field_name, _, value = change.partition("=")
            variants[change] = replace(ProbeOptions(), **{field_name: type(getattr(ProbeOptions(), field_name))(value)})
        result["phases"] = probe_phases(recordings, engine, variants)
        print(table(["probes", "half", "shift s", "P", "R", "R mixed", "speech->music", "frames run", "= full"],
                    result["phases"]))
        write_json(args.json, result)
        return 0
    if args.sweep:
        rows = sweep(recordings, engine.sound_events)
        print("\nMusic threshold from the detector alone (P, R, R under speech, speech frames called music):\n")
        print(table(["threshold", "under speech"] + [f"{h} {m}" for h in HALVES
                                                     for m in ("P", "R", "R mixed", "speech->music")], rows))
        result["sweep"] = rows
    result["singing on unsung clips"] = singing_on_unsung(engine.sound_events, args.speech_dir)
    print("\nSinging events on clips that are not sung (clip, s):", result["singing on unsung clips"])
    summaries = {}
    for half, built in recordings.items():
        counts = Counts()
        transcripts = engine.transcribe_clips([AudioClip(b.samples, b.name, RATE, 1) for b in built])
        for b, t in zip(built, transcripts):
            score(b, t, counts)
        summaries[half] = summary(counts)
        summaries[half]["audio s"] = round(sum(len(b.samples) for b in built) / RATE, 1)
    metrics = list(next(iter(summaries.values())))
    print("\nWhole pipeline, frame level (10 ms):\n")
    print(table(["metric"] + list(HALVES), [[m] + [summaries[h][m] for h in HALVES] for m in metrics]))
    result["halves"] = summaries
    if args.podcast:
        result["podcast"] = podcast(engine, args.speech_dir)
        print("\nPodcast-like join:", {k: v for k, v in result["podcast"].items()})
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
