"""What speakers and word times cost: wall time and peak memory of a whole transcription process, three ways.

Each round runs three fresh processes in turn (plain, then with word times, then with word times and speakers),
on one recording: the AMI clips of ``--speech-dir``/diarization repeated to ``--minutes`` (a meeting with
several voices). A process loads the engine (and the voice encoder when asked), opens the file with
``AudioSession.open`` and writes the transcript as JSON, as ``aero-agent transcribe FILE [--speakers]
--format json`` does. Time is each process's wall clock from start to exit, peak memory its own maximum
resident set (``os.wait4``). The machine is shared, so the figures that matter are the ratios within a round,
and their median over rounds.

    python benchmarks/speaker_cost.py [--minutes 15] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (DEFAULT_SPEECH_DIR, emit_result, header_lines, machine_info, median, table,  # noqa: E402
                     worker_env, write_wav, RESULT_MARK)

VARIANTS = {  # name: (word times, speakers)
    "plain (no word times, no speakers)": (False, False),
    "word times (the default)": (True, False),
    "word times + speakers (--speakers)": (True, True),
}


def worker(payload: dict) -> None:
    """One whole transcription, as the CLI does it."""
    from aero_agent.engines.whisper import WhisperEngine
    from aero_agent.session import AudioSession

    engine = WhisperEngine(word_timestamps=payload["words"])
    session = AudioSession.open(payload["path"], engine, speakers=payload["speakers"])
    transcript = session.transcribe()
    Path(payload["out"]).write_text(transcript.to_json())
    emit_result({"segments": len(transcript.segments), "speakers": session.info.speakers})


def run(payload: dict) -> dict:
    """Start the worker, wait for it with ``os.wait4``: wall seconds and the child's own peak RSS."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(payload)], stdout=out,
                                stderr=subprocess.STDOUT, env=worker_env(2), text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        lines = out.read().splitlines()
    found = [json.loads(line[len(RESULT_MARK):]) for line in lines if line.startswith(RESULT_MARK)]
    if status != 0 or not found:
        raise RuntimeError(f"worker failed ({status}):\n" + "\n".join(lines[-20:]))
    return {"wall_s": wall, "peak_mb": usage.ru_maxrss / 1024, "cpu_s": usage.ru_utime + usage.ru_stime, **found[0]}


def meeting(speech_dir: Path, minutes: float, path: Path) -> float:
    import soundfile as sf

    folder = speech_dir / "diarization"
    rows = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines() if line.strip()]
    clips = [sf.read(folder / r["path"], dtype="float32")[0] for r in rows if r["id"].startswith("ami_")]
    joined, total = [], 0
    while total < minutes * 60 * 16_000:
        for clip in clips:
            joined.append(clip)
            total += len(clip)
    samples = np.concatenate(joined)[: int(minutes * 60 * 16_000)]
    write_wav(path, samples)
    return len(samples) / 16_000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH_DIR)
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return 0
    print("\n".join(header_lines(machine_info(), " ".join(sys.argv))))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "meeting.wav"
        seconds = meeting(args.speech_dir, args.minutes, path)
        results: dict[str, list[dict]] = {name: [] for name in VARIANTS}
        for number in range(args.rounds):
            for name, (words, speakers) in VARIANTS.items():
                got = run({"path": str(path), "words": words, "speakers": speakers, "out": str(Path(tmp) / "t.json")})
                results[name].append(got)
                print(f"round {number + 1}: {name}: {got['wall_s']:.1f} s, peak {got['peak_mb']:.0f} MB, "
                      f"{got['segments']} segments, speakers {got['speakers']}", flush=True)
    plain = results[next(iter(VARIANTS))]
    rows = []
    for name, runs in results.items():
        ratio = median(r["wall_s"] / p["wall_s"] for r, p in zip(runs, plain))
        memory = median(r["peak_mb"] / p["peak_mb"] for r, p in zip(runs, plain))
        rows.append([name, median(r["wall_s"] for r in runs), median(r["cpu_s"] for r in runs),
                     median(r["peak_mb"] for r in runs), f"{ratio:.3f}", f"{memory:.3f}"])
    print("\n" + table(["process", "wall s (median)", "CPU s", "peak MB", "wall / plain (per round)",
                        "peak / plain"], rows))
    print(f"\n{seconds / 60:.1f} min recording (AMI clips repeated), {args.rounds} round(s), each a fresh process "
          "(model loading included), the three run in turn.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
