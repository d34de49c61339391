"""Speaker diarization: DER on the multi-speaker clips of ``--speech-dir``/diarization, and its cost.

DER is pyannote.metrics' ``DiarizationErrorRate`` with a 0.25 s collar and overlapping speech scored,
against the reference each clip's ``manifest.jsonl`` row names (for AMI clips the "only words" crop of the
standard AMI reference). All rows come from the same run:

* ``ours, auto``: the session's path, ``AudioSession.open(..., speakers=True)``: speech regions are the
  Whisper transcript's segments, the speaker count is found automatically;
* ``ours, auto, Silero VAD speech``: speech regions from Silero VAD v6 (the ``silero-vad`` wheel), as the
  session will pass them once the VAD is in;
* ``ours, auto, reference speech``: the same diarizer given the reference's speech regions (clustering alone);
* ``ours, num_speakers=true``: transcript speech, the true count given;
* ``one speaker, whole file`` and ``reference speech, one speaker``: the two trivial references.

Cost: the clips joined (repeated) to ``--minutes``; Whisper transcription (engine encode) and diarization
of its segments are timed alternately in one process, ``--rounds`` times, and their ratio printed.

    python benchmarks/diarization.py [--minutes 15] [--rounds 1] [--no-cost]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_SPEECH_DIR, header_lines, machine_info, median, table  # noqa: E402

COLLAR = 0.25


def annotation(turns):
    from pyannote.core import Annotation, Segment

    ann = Annotation()
    for start, end, speaker in turns:
        if end > start:
            ann[Segment(start, end)] = speaker
    return ann


def read_rttm(path: Path) -> list[tuple[float, float, str]]:
    rows = [line.split() for line in path.read_text().splitlines() if line.startswith("SPEAKER")]
    return [(float(r[3]), float(r[3]) + float(r[4]), r[7]) for r in rows]


def load_clips(folder: Path) -> list[dict]:
    import soundfile as sf

    clips = []
    for line in (folder / "manifest.jsonl").read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            samples, rate = sf.read(folder / row["path"], dtype="float32")
            assert rate == 16_000, row["path"]
            row["samples"], row["reference"] = samples, read_rttm(folder / row["rttm"])
            clips.append(row)
    return clips


def silero_speech(samples: np.ndarray) -> list[tuple[float, float]]:
    """Speech regions from the Silero VAD v6 model the ``silero-vad`` wheel ships (default settings), as the
    session will pass them once the VAD lands."""
    import torch
    from silero_vad import get_speech_timestamps, load_silero_vad

    model = silero_speech.__dict__.setdefault("model", load_silero_vad())
    stamps = get_speech_timestamps(torch.from_numpy(samples), model, return_seconds=True)
    return [(float(s["start"]), float(s["end"])) for s in stamps]


def hypotheses(clip: dict, engine, diarizer) -> dict[str, list]:
    from aero_agent.audio import load_audio
    from aero_agent.speakers import DiarizationOptions

    duration = len(clip["samples"]) / 16_000
    transcript = engine.encode(load_audio(clip["samples"], sample_rate=16_000)).transcript
    said = [(s.start, s.end) for s in transcript.segments if s.text.strip()]
    ref = annotation(clip["reference"])
    ref_speech = [(s.start, s.end) for s in ref.get_timeline().support()]

    def turns(speech, options):
        return [(t.start, t.end, t.speaker) for t in diarizer.diarize(clip["samples"], speech, options)]

    return {
        "ours, auto": turns(said, DiarizationOptions()),
        "ours, auto, Silero VAD speech": turns(silero_speech(clip["samples"]), DiarizationOptions()),
        "ours, auto, reference speech": turns(ref_speech, DiarizationOptions()),
        "ours, num_speakers=true": turns(said, DiarizationOptions(num_speakers=clip["speakers"])),
        "one speaker, whole file": [(0.0, duration, "A")],
        "reference speech, one speaker": [(a, b, "A") for a, b in ref_speech],
    }


def der_tables(clips: list[dict], engine, diarizer) -> str:
    from pyannote.metrics.diarization import DiarizationErrorRate

    per_clip: dict[str, dict[str, tuple[float, int]]] = {}
    totals: dict[str, DiarizationErrorRate] = {}
    for clip in clips:
        for name, turns in hypotheses(clip, engine, diarizer).items():
            metric = DiarizationErrorRate(collar=COLLAR, skip_overlap=False)
            hyp = annotation(turns)
            der = metric(annotation(clip["reference"]), hyp)
            per_clip.setdefault(name, {})[clip["id"]] = (100 * der, len(hyp.labels()))
            if clip["id"].startswith("ami_"):
                totals.setdefault(name, DiarizationErrorRate(collar=COLLAR, skip_overlap=False))(
                    annotation(clip["reference"]), hyp)
    ids = [c["id"] for c in clips]
    ami = [i for i in ids if i.startswith("ami_")]
    headers = ["system"] + [f"{i} ({c['speakers']} spk)" for i, c in zip(ids, clips)] + ["AMI DER (pooled)"]
    rows = []
    for name, results in per_clip.items():
        cells = [f"{results[i][0]:.1f}% / {results[i][1]}" for i in ids]
        rows.append([name] + cells + [f"{100 * abs(totals[name]):.1f}%"])
    note = (f"DER / speakers found; collar {COLLAR} s, overlap scored; AMI pooled over {len(ami)} clips "
            f"({', '.join(ami)}), the other clips are shown apart (weaker references, see the data README).")
    return table(headers, rows) + "\n\n" + note


def cost_table(clips: list[dict], engine, diarizer, minutes: float, rounds: int) -> str:
    from aero_agent.audio import load_audio
    from aero_agent.speakers import DiarizationOptions

    joined, total = [], 0
    while total < minutes * 60 * 16_000:
        for clip in clips:
            joined.append(clip["samples"])
            total += len(clip["samples"])
    samples = np.concatenate(joined)[: int(minutes * 60 * 16_000)]
    clip = load_audio(samples, sample_rate=16_000)
    asr, dia = [], []
    speech: list[tuple[float, float]] = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        transcript = engine.encode(clip).transcript
        asr.append(time.perf_counter() - t0)
        speech = [(s.start, s.end) for s in transcript.segments if s.text.strip()]
        t0 = time.perf_counter()
        turns = diarizer.diarize(samples, speech, DiarizationOptions())
        dia.append(time.perf_counter() - t0)
    a, d = median(asr), median(dia)
    rows = [["transcription (Whisper tiny.en encode)", a, a / (len(samples) / 16_000)],
            ["diarization (speakers=True adds)", d, d / (len(samples) / 16_000)]]
    return (table(["step", "wall s (median)", "x real time"], rows)
            + f"\n\n{len(samples) / 16_000 / 60:.1f} min recording ({len(clips)} clips repeated), {rounds} round(s), "
              f"{len(speech)} speech segments, {len({t.speaker for t in turns})} speakers found; diarization adds "
              f"{100 * d / a:.1f}% to transcription time.")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH_DIR)
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--no-cost", action="store_true", help="only the DER table")
    args = parser.parse_args(argv)
    from aero_agent.engines import default_engine
    from aero_agent.speakers import default_diarizer

    print("\n".join(header_lines(machine_info(), " ".join(sys.argv))))
    clips = load_clips(args.speech_dir / "diarization")
    engine, diarizer = default_engine(), default_diarizer()
    print("\n" + der_tables(clips, engine, diarizer))
    if not args.no_cost:
        print("\n" + cost_table(clips, engine, diarizer, args.minutes, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
