"""Multi-turn cost: open a 15-minute AudioSession, ask five questions, and time every turn, per engine.

The recording is the speech clips of ``--speech-dir`` joined in order (repeated) to ``--minutes``
and written to a temporary 16-bit WAV; ``AudioSession.open(path, engine)`` decodes it with
``load_audio`` and encodes it once. Each engine runs in its own fresh subprocess; the engine is
loaded (and warmed up on one short clip) before the clock starts, as a server or agent holding a
loaded engine would.

Definition used for the ratio: **turn 1 = open (decode + the engine's one encoding pass) + the first
``ask``**; a follow-up turn is one later ``ask`` on the same session. The target is that every
follow-up turn costs at most 5 % of turn 1 in wall time (the worst follow-up is what passes or fails;
the mean is shown too).

Engines:

* ``whisper``: the embedded Whisper tiny.en engine. It transcribes but cannot answer, so ``ask`` returns
  the best-matching transcript evidence (BM25 over the transcript). Its cost is counted in decoded
  30-s windows (open) and transcript segments searched (each turn).
* ``aero``: the Aero engine on a tiny *random* checkpoint with Aero-1-Audio's structure, built into a
  temporary folder with ``tests/aero_tiny.py`` (dimensions printed; the same as
  ``benchmarks/aero_turns.py``). Only when ``aero_agent.engines.aero`` and ``tests/aero_tiny.py`` exist.
  Its cost is counted in tokens: prefilled (audio prefix on turn 1, then the question), generated, and
  reused from the KV cache. The answers are noise (random weights); the costs have the real model's
  token layout (30 windows x 750 audio tokens for 15 minutes).

    python benchmarks/sessions.py [--minutes 15] [--threads 2] [--engines whisper,aero] [--json out.json]
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
    REPO,
    PeakMeter,
    code_fingerprint,
    emit_result,
    header_lines,
    loadavg,
    machine_info,
    rss_mb,
    run_worker,
    snapshot_code,
    speech_recording,
    table,
    write_json,
    write_wav,
)

QUESTIONS = [
    "What does the speaker ask his fellow Americans to do for their country?",
    "Which playing cards are named?",
    "What is said about printing and the invention of movable metal letters?",
    "Who is Mister Quilter?",
    "What did the hospital do to control the infection?",
]
TARGET_FOLLOW_UP_RATIO = 0.05
# The Aero benchmark dimensions of benchmarks/aero_turns.py (kept in step when that file exists).
AERO_DIMS_FALLBACK = {"d_model": 128, "encoder_layers": 4, "encoder_heads": 4, "encoder_ffn": 512, "hidden": 192,
                      "layers": 4, "heads": 6, "kv_heads": 1, "intermediate": 1120, "init_std": 0.05}


def aero_available() -> tuple[bool, str]:
    if not (REPO / "aero_agent" / "engines" / "aero" / "__init__.py").is_file():
        return False, "aero_agent/engines/aero is missing"
    if not (REPO / "tests" / "aero_tiny.py").is_file():
        return False, "tests/aero_tiny.py is missing"
    return True, ""


def aero_dims() -> dict[str, Any]:
    try:
        sys.path.insert(0, str(REPO / "benchmarks"))
        from aero_turns import BENCH_DIMS  # the Aero engineer's benchmark dimensions

        return dict(BENCH_DIMS)
    except Exception:  # noqa: BLE001 - any failure: use the copy above
        return dict(AERO_DIMS_FALLBACK)


# ============================================================================ worker (one engine)


def _whisper_engine(payload: dict[str, Any]):
    from aero_agent.engines.whisper import WhisperEngine

    return WhisperEngine(threads=payload["threads"]), {}


def _aero_engine(payload: dict[str, Any], tmp: Path):
    sys.path.insert(0, str(REPO / "tests"))
    from aero_tiny import write_tiny_checkpoint

    from aero_agent.engines.aero import AeroEngine

    dims = payload["aero_dims"]
    model_dir = write_tiny_checkpoint(tmp / "aero-bench", **dims)
    engine = AeroEngine(model_dir, device="cpu", dtype="float32", max_new_tokens=payload["max_new_tokens"])
    text = engine.config.text
    info = {"parameters_m": round(sum(p.numel() for p in engine.model.parameters()) / 1e6, 2),
            "audio_tower": f"Qwen2AudioEncoder {dims['encoder_layers']} layers, d_model {dims['d_model']}, "
                           f"{dims['encoder_heads']} heads, ffn {dims['encoder_ffn']}, 128 mels, 1500 positions",
            "projector": f"Linear {dims['d_model']} -> {text.hidden_size}",
            "language_model": f"Qwen2 {text.num_hidden_layers} layers, hidden {text.hidden_size}, "
                              f"{text.num_attention_heads} heads / {text.num_key_value_heads} KV heads, "
                              f"ffn {text.intermediate_size}, vocab {text.vocab_size}",
            "max_new_tokens": payload["max_new_tokens"], "dtype": "float32", "weights": "random"}
    return engine, info


def worker(payload: dict[str, Any]) -> None:
    parts = ("engines/aero",) if payload["engine"] == "aero" else ("engines/whisper",)
    code = code_fingerprint(*parts, "engines/base.py", "session.py", "retrieval.py", "audio.py")
    import torch

    torch.set_num_threads(payload["threads"])
    from aero_agent.audio import load_audio
    from aero_agent.session import AudioSession

    with tempfile.TemporaryDirectory(prefix="aero-sess-bench-") as tmp:
        t0 = time.perf_counter()
        if payload["engine"] == "aero":
            engine, model_info = _aero_engine(payload, Path(tmp))
        else:
            engine, model_info = _whisper_engine(payload)
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        engine.encode(load_audio(payload["warmup"]))  # first-call kernel set-up, outside the clock
        warmup_s = time.perf_counter() - t0
        after_load = rss_mb()

        turns: list[dict[str, Any]] = []
        session = None
        for number, question in enumerate(payload["questions"], 1):
            with PeakMeter() as meter:
                t0 = time.perf_counter()
                open_s = 0.0
                if session is None:
                    session = AudioSession.open(payload["wav"], engine=engine)
                    open_s = time.perf_counter() - t0
                answer = session.ask(question)
                wall = time.perf_counter() - t0
            encoded = session.encoded
            row: dict[str, Any] = {"turn": number, "wall_s": round(wall, 6), "open_s": round(open_s, 6),
                                   "ask_s": round(wall - open_s, 6), "cpu_s": round(meter.cpu_s, 4),
                                   "peak_mb": round(meter.peak_mb, 1),
                                   "rss_mb": round(meter.end_mb, 1), "method": answer.method,
                                   "answer_chars": len(answer.text), "evidence": len(answer.evidence)}
            if payload["engine"] == "aero":
                meta = answer.metadata
                prefix = sum(int(s["prefix_len"]) for s in encoded.meta["segments"]) if number == 1 else 0
                row.update({"windows": len(encoded.meta["windows"]) if number == 1 else 0,
                            "audio_tokens": encoded.meta["audio_tokens"] if number == 1 else 0,
                            "prefilled_tokens": int(meta.get("prefilled_tokens", 0)) + prefix,
                            "generated_tokens": int(meta.get("generated_tokens", 0)),
                            "cached_tokens": int(meta.get("cached_tokens", 0)),
                            "context_tokens": int(meta.get("context_tokens", 0)),
                            "segments_passes": int(meta.get("segments", 1))})
            else:
                # windows as the session saw them through the engine's progress reports (repair passes included)
                row.update({"windows": session.info.windows_done if number == 1 else 0,
                            "segments_searched": len(encoded.transcript.segments)})
            turns.append(row)
        emit_result({"engine": payload["engine"], "code": code, "model_id": engine.model_id, "model": model_info,
                     "load_s": round(load_s, 3), "warmup_s": round(warmup_s, 3),
                     "rss_after_load_mb": round(after_load, 1), "peak_method": meter.method,
                     "duration_s": session.info.duration_s, "turns": turns})


# ============================================================================ driver


def _ratios(result: dict[str, Any]) -> dict[str, Any]:
    first = result["turns"][0]["wall_s"]
    follow = [t["wall_s"] for t in result["turns"][1:]]
    worst = max(follow) / first if follow else float("nan")
    mean = sum(follow) / len(follow) / first if follow else float("nan")
    return {"turn1_s": first, "follow_up_max_ratio": round(worst, 6), "follow_up_mean_ratio": round(mean, 6),
            "passed": worst <= TARGET_FOLLOW_UP_RATIO}


def _render(result: dict[str, Any]) -> str:
    engine = result["engine"]
    lines = [(f"\nengine {engine} ({result['model_id']}): load {result['load_s']:.2f} s + warm-up "
              f"{result['warmup_s']:.2f} s (not in turn 1), RSS after load {result['rss_after_load_mb']:.0f} MB; "
              f"engine source fingerprint {result['code']}")]
    for key, value in result.get("model", {}).items():
        lines.append(f"  {key}: {value}")
    if engine == "aero":
        headers = ["turn", "wall ms", "of which open ms", "windows", "prefilled tok", "generated tok", "cached tok",
                   "peak RSS MB", "ratio to turn 1"]
        rows = [[t["turn"], f"{1000 * t['wall_s']:.1f}", f"{1000 * t['open_s']:.0f}", t["windows"],
                 t["prefilled_tokens"],
                 t["generated_tokens"], t["cached_tokens"], f"{t['peak_mb']:.0f}",
                 f"{t['wall_s'] / result['turns'][0]['wall_s']:.4f}"] for t in result["turns"]]
    else:
        headers = ["turn", "wall ms", "of which open ms", "windows decoded", "segments searched", "answer",
                   "peak RSS MB", "ratio to turn 1"]
        rows = [[t["turn"], f"{1000 * t['wall_s']:.1f}", f"{1000 * t['open_s']:.0f}", t["windows"],
                 t["segments_searched"],
                 t["method"], f"{t['peak_mb']:.0f}", f"{t['wall_s'] / result['turns'][0]['wall_s']:.6f}"]
                for t in result["turns"]]
    lines.append(table(headers, rows))
    r = result["ratios"]
    lines.append(f"follow-up / turn 1: worst {r['follow_up_max_ratio']:.6f}, mean {r['follow_up_mean_ratio']:.6f} "
                 f"-> target <= {TARGET_FOLLOW_UP_RATIO:.2f}: {'PASS' if r['passed'] else 'FAIL'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH_DIR)
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--engines", default="whisper,aero", help="comma-separated: whisper, aero")
    parser.add_argument("--max-new-tokens", type=int, default=32, help="aero: tokens generated per answer")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--live-code", action="store_true",
                        help="import aero_agent from the work tree (default: a snapshot taken at start)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        worker(json.loads(args.worker))
        return 0

    speech_dir = args.speech_dir.expanduser().resolve()
    if not (speech_dir / "manifest.jsonl").is_file():
        print(f"no speech data: {speech_dir / 'manifest.jsonl'} does not exist", file=sys.stderr)
        return 2
    info = machine_info()
    command = "python benchmarks/sessions.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    print("\n".join(header_lines(info, command.strip())))
    clips, joined = speech_recording(speech_dir, args.minutes)
    print(f"recording: {joined.duration_s / 60:.2f} min ({len(joined.spans)} clip instances from {len(clips)} "
          f"speech clips); threads {args.threads}; {len(QUESTIONS)} questions")
    print("turn 1 = AudioSession.open(path) (decode + encode) + first ask; follow-up = one later ask; "
          f"target: every follow-up <= {TARGET_FOLLOW_UP_RATIO:.0%} of turn 1 wall time")

    wanted = [e.strip() for e in args.engines.split(",") if e.strip()]
    results, skipped = [], {}
    with tempfile.TemporaryDirectory(prefix="aero-sess-bench-") as tmp:
        wav = write_wav(Path(tmp) / "session.wav", joined.samples)
        code_dir = None if args.live_code else snapshot_code(Path(tmp) / "code")
        for engine in wanted:
            if engine == "aero":
                ok, why = aero_available()
                if not ok:
                    skipped[engine] = why
                    print(f"\nengine aero: skipped ({why})")
                    continue
            elif engine != "whisper":
                raise SystemExit(f"unknown engine {engine!r}")
            payload = {"engine": engine, "wav": str(wav), "warmup": str(clips[0].path), "threads": args.threads,
                       "questions": QUESTIONS, "max_new_tokens": args.max_new_tokens, "aero_dims": aero_dims()}
            print(f"  running {engine} ...", file=sys.stderr, flush=True)
            result = run_worker(Path(__file__), payload, args.threads, timeout=args.timeout, code_dir=code_dir)
            result["ratios"] = _ratios(result)
            result["loadavg"] = loadavg()
            results.append(result)
            print(_render(result))
    end = loadavg()
    print(f"\nmemory: {results[0]['peak_method'] if results else '-'}; peak RSS per turn = highest resident set "
          f"size during that turn (loaded model included)")
    print(f"load average at end: {end[0]:.2f} {end[1]:.2f} {end[2]:.2f}")
    write_json(args.json, {"machine": info, "command": command, "questions": QUESTIONS,
                           "duration_s": joined.duration_s, "results": results, "skipped": skipped,
                           "loadavg_end": end})
    return 0


if __name__ == "__main__":
    sys.exit(main())
