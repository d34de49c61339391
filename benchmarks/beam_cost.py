"""What beam search costs: CPU seconds of the engine greedy, by default (greedy, low-confidence windows retried with
beam 5: ``BeamPolicy.retry_below``) and with beam 5 throughout, alternating in one process.

The recordings are the short speech clips of the half (each alone, as ``joins.py`` reads them) and, with
``--long``, a joined recording of that many minutes (``speech_recording``). Runs alternate ``greedy, default,
beam 5`` ``--rounds`` times so a loaded machine inflates all alike; the ratios of medians are the figures to quote.

    flock /work/coord/bench.lock python benchmarks/beam_cost.py [--half tuning] [--rounds 3] [--long 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (DEFAULT_SPEECH_DIR, cpu_s, header_lines, machine_info, median, speech_recording,  # noqa: E402
                     table)
from joins import RATE, build_cases  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH_DIR)
    parser.add_argument("--half", default="tuning")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--long", type=float, default=0.0, help="minutes of joined speech to time as well")
    args = parser.parse_args(argv)
    print("\n".join(header_lines(machine_info(), "python benchmarks/beam_cost.py " + " ".join(argv or sys.argv[1:]))))
    import torch

    from aero_agent.audio import AudioClip
    from aero_agent.engines.whisper import WhisperEngine
    from aero_agent.transcription import TranscribeOptions

    torch.set_num_threads(args.threads)
    engine = WhisperEngine(threads=args.threads)
    sets = {"short clips": [c.samples for c in build_cases(args.speech_dir, args.half, {"short"})["short"]]}
    if args.long:
        sets[f"{args.long:g} min joined"] = [speech_recording(args.speech_dir, args.long)[1].samples]
    rows = []
    arms = {"greedy": TranscribeOptions(beam_size=1), "default": TranscribeOptions(), "beam 5": TranscribeOptions(beam_size=5)}
    for name, recordings in sets.items():
        seconds: dict[str, list[float]] = {arm: [] for arm in arms}
        for _ in range(args.rounds):
            for arm, options in arms.items():
                t0 = cpu_s()
                for samples in recordings:
                    engine.transcribe_clips([AudioClip(samples, "clip", RATE, 1)], options=options)
                seconds[arm].append(cpu_s() - t0)
        audio_s = sum(len(s) for s in recordings) / RATE
        g, d, b = (median(seconds[arm]) for arm in arms)
        rows.append([name, round(audio_s, 1), round(g, 2), round(d, 2), round(d / g, 2), round(b, 2), round(b / g, 2)])
    print(table(["recordings", "audio s", "greedy CPU s (median)", "default (greedy, beam retry) CPU s", "ratio",
                 "beam 5 CPU s", "ratio"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
