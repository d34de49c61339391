"""Turns 1-5 on a 15-minute recording with the Aero engine: wall time, prefilled tokens, peak memory.

The model is random but has Aero-1-Audio's layer structure (Qwen2-Audio encoder with 128 mels and
1500 source positions, one Linear projector, a Qwen2 decoder with grouped-query attention), scaled
down to run on 2 CPU cores. The audio is real speech joined from ../shared/speech/clips (looped to
15 minutes), so the token layout is exactly the real model's: 30 windows, 22,500 audio tokens.

Turn 1 is what the first question costs: encoding plus the answer. Turns 2-5 are follow-ups that
reuse the KV cache. A "no cache" follow-up (the language model recomputing the whole context from
the stored audio embeddings) is timed too, for comparison.

    python benchmarks/aero_turns.py [--minutes 15] [--threads 2] [--max-new-tokens 32]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

BENCH_DIMS = dict(d_model=128, encoder_layers=4, encoder_heads=4, encoder_ffn=512,
                  hidden=192, layers=4, heads=6, kv_heads=1, intermediate=1120, init_std=0.05)
QUESTIONS = ["What is the recording about?", "Who speaks first, and what do they say?",
             "Is there any music or background noise?", "Summarise the last minute.",
             "What is the emotion of the speakers?"]


def _rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _recording(minutes: float, clips_dir: Path):
    from aero_agent.audio import AudioClip, load_audio

    files = sorted(clips_dir.glob("*.wav"))
    if not files:
        raise SystemExit(f"no clips in {clips_dir}")
    want = int(minutes * 60 * 16_000)
    parts, total = [], 0
    while total < want:
        for f in files:
            parts.append(load_audio(f).samples)
            total += len(parts[-1])
            if total >= want:
                break
    return AudioClip(np.concatenate(parts)[:want], f"{len(files)} clips looped", 16_000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--clips", type=Path, default=REPO.parent / "shared" / "speech" / "clips")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from aero_tiny import write_tiny_checkpoint

    from aero_agent.engines.aero import AeroEngine
    from aero_agent.results import Turn

    clip = _recording(args.minutes, args.clips)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = write_tiny_checkpoint(Path(tmp) / "bench", **BENCH_DIMS)
        engine = AeroEngine(model_dir, device="cpu", dtype="float32", max_new_tokens=args.max_new_tokens)
        params = sum(p.numel() for p in engine.model.parameters())
        text = engine.config.text
        print(f"model: random, Aero structure scaled down ({params / 1e6:.1f} M parameters)")
        print(f"  audio tower: Qwen2AudioEncoder, {BENCH_DIMS['encoder_layers']} layers, d_model "
              f"{BENCH_DIMS['d_model']}, {BENCH_DIMS['encoder_heads']} heads, ffn {BENCH_DIMS['encoder_ffn']}, "
              f"128 mels, 1500 source positions")
        print(f"  projector: Linear {BENCH_DIMS['d_model']} -> {text.hidden_size}")
        print(f"  language model: Qwen2ForCausalLM, {text.num_hidden_layers} layers, hidden {text.hidden_size}, "
              f"{text.num_attention_heads} heads / {text.num_key_value_heads} KV heads (head dim "
              f"{text.hidden_size // text.num_attention_heads}), ffn {text.intermediate_size}, vocab {text.vocab_size}")
        print(f"audio: {clip.duration_s / 60:.1f} min ({clip.source}); torch threads: {args.threads}; "
              f"greedy, {args.max_new_tokens} new tokens per turn")
        print(f"baseline RSS after load: {_rss_mb():.0f} MB")

        t0 = time.perf_counter()
        encoded = engine.encode(clip)
        encode_s = time.perf_counter() - t0
        seg = encoded.meta["segments"][0]
        print(f"encode: {encode_s:.1f} s, {len(encoded.meta['windows'])} windows, "
              f"{encoded.meta['audio_tokens']} audio tokens, prefix {seg['prefix_len']} tokens prefilled, "
              f"{len(encoded.meta['segments'])} pass(es)")

        rows = []
        history: list[Turn] = []
        for number, question in enumerate(QUESTIONS, 1):
            t0 = time.perf_counter()
            reply = engine.answer(encoded, question, history)
            seconds = time.perf_counter() - t0
            wall = seconds + (encode_s if number == 1 else 0.0)
            prefilled = reply.prefilled_tokens + (seg["prefix_len"] if number == 1 else 0)
            rows.append((number, wall, prefilled, reply.generated_tokens, reply.metadata.get("cached_tokens", 0),
                         _rss_mb(), _peak_mb()))
            history += [Turn(role="user", content=question), Turn(role="assistant", content=reply.text)]

        t0 = time.perf_counter()
        nocache = engine.answer(encoded, "One more question?", history, reuse_cache=False)
        nocache_s = time.perf_counter() - t0

    print()
    print(f"{'turn':>4} {'wall s':>8} {'prefilled':>10} {'generated':>9} {'cached':>8} {'RSS MB':>8} {'peak MB':>8}")
    for number, wall, prefilled, generated, cached, rss, peak in rows:
        print(f"{number:>4} {wall:>8.2f} {prefilled:>10} {generated:>9} {cached:>8} {rss:>8.0f} {peak:>8.0f}")
    print(f"(turn 1 includes encoding: {encode_s:.2f} s of it)")
    print(f"follow-up without the cache (full LM recompute from stored audio embeddings): {nocache_s:.2f} s, "
          f"{nocache.prefilled_tokens} tokens prefilled")
    follow = rows[1:]
    mean = sum(r[1] for r in follow) / len(follow)
    print(f"ratio follow-up / turn 1: {mean / rows[0][1]:.4f} (mean of turns 2-5: {mean:.2f} s vs {rows[0][1]:.2f} s); "
          f"prefilled {sum(r[2] for r in follow) / len(follow):.0f} vs {rows[0][2]} tokens")


if __name__ == "__main__":
    main()
