"""What beam search costs: CPU seconds of the engine with greedy decoding against beam 5, alternating in one process.

The recordings are the short speech clips of the half (each alone, as ``joins.py`` reads them) and, with
``--long``, a joined recording of that many minutes (``speech_recording``). Runs alternate ``greedy, beam 5``
``--rounds`` times so a loaded machine inflates both alike; the ratio of medians is the figure to quote.

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
    for name, recordings in sets.items():
        seconds: dict[int, list[float]] = {1: [], 5: []}
        for _ in range(args.rounds):
            for beam in (1, 5):
                t0 = cpu_s()
                for samples in recordings:
                    engine.transcribe_clips([AudioClip(samples, "clip", RATE, 1)], options=TranscribeOptions(beam_size=beam))
                seconds[beam].append(cpu_s() - t0)
        audio_s = sum(len(s) for s in recordings) / RATE
        g, b = median(seconds[1]), median(seconds[5])
        rows.append([name, round(audio_s, 1), round(g, 2), round(b, 2), round(b / g, 2)])
    print(table(["recordings", "audio s", "greedy CPU s (median)", "beam 5 CPU s (median)", "ratio"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
