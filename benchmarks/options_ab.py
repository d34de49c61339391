"""A/B of Whisper engine options: WER, CPU seconds and peak RSS of our engine with option sets given as JSON,
alternating, each run in a fresh process (model load excluded from the timed part).

Long form: the speech clips joined in order to at least ``--minutes`` (as ``asr.py`` builds it); short form
(``--short``): every clip transcribed alone, one call each.

    python benchmarks/options_ab.py --minutes 15 --repeats 2 \
        --option on='{"condition_on_previous_text": true}' --option off='{"condition_on_previous_text": false}'

Nested option sets are JSON objects of their fields: ``--option notail='{"sound": {"tail_s": 0}}'``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from _common import PeakMeter, emit_result, median, run_worker, speech_recording

DEFAULT_SPEECH_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "speech"


def nested_options(options: dict[str, Any]) -> dict[str, Any]:
    """WhisperOptions fields with the nested option sets (``{"sound": {"tail_s": 0}}``) as their dataclasses, each
    field not given keeping its default."""
    from aero_agent.engines.whisper.options import WhisperOptions

    defaults = WhisperOptions()
    return {k: type(getattr(defaults, k))(**v) if isinstance(v, dict) else v for k, v in options.items()}


def worker(payload: dict[str, Any]) -> None:
    """One run: load the engine with the payload's options, transcribe, print WER, CPU seconds and peak RSS."""
    import torch

    torch.set_num_threads(payload["threads"])
    from aero_agent.audio import AudioClip, load_audio
    from aero_agent.engines.whisper import WhisperEngine
    from aero_agent.evaluation import word_error_rate

    engine = WhisperEngine(threads=payload["threads"], **nested_options(payload["options"]))
    clips, joined = speech_recording(Path(payload["speech_dir"]), payload["minutes"])
    if payload["form"] == "long":
        audio = [AudioClip(joined.samples, "joined", 16000, 1)]
        refs = [joined.reference]
    else:
        audio = [load_audio(c.path) for c in clips]
        refs = [c.text for c in clips]
    engine.timings = dict.fromkeys(engine.timings, 0.0)
    with PeakMeter() as meter:
        hyps = [engine.transcribe_clips([clip])[0].text for clip in audio]
    wer = word_error_rate(refs, hyps)
    emit_result({"wer": wer.wer, "errors": [wer.substitutions, wer.deletions, wer.insertions], "words": wer.reference_words,
                 "cpu_s": meter.cpu_s, "peak_mb": meter.peak_mb, "timings": engine.timings,
                 "hyps": hyps if payload["form"] == "long" else []})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--option", action="append", default=[], metavar="NAME=JSON",
                        help="an option set: a name and WhisperOptions fields as a JSON object")
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH_DIR)
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--short", action="store_true", help="each clip alone instead of the joined recording")
    parser.add_argument("--json", type=Path, default=None, help="write every run here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return 0
    sets = dict(item.split("=", 1) for item in args.option) or {"default": "{}"}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in sets}
    for round_no in range(args.repeats):
        for name, options in sets.items():
            payload = {"options": json.loads(options), "threads": args.threads, "minutes": args.minutes,
                       "speech_dir": str(args.speech_dir.resolve()), "form": "short" if args.short else "long"}
            result = run_worker(Path(__file__), payload, args.threads)
            runs[name].append(result)
            print(f"round {round_no} {name}: WER {100 * result['wer']:.2f} % {result['errors']} of "
                  f"{result['words']}, {result['cpu_s']:.1f} CPU s, peak {result['peak_mb']:.0f} MB, "
                  f"{ {k: round(v, 1) for k, v in result['timings'].items()} }", flush=True)
    for name, mine in runs.items():
        print(f"{name}: median WER {100 * median(r['wer'] for r in mine):.2f} %, CPU {median(r['cpu_s'] for r in mine):.1f} s, "
              f"peak {median(r['peak_mb'] for r in mine):.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
