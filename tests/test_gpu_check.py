"""benchmarks/gpu_check.py: the CPU smoke mode runs the whole device check end to end, with lean imports."""

from __future__ import annotations

import json
import sys

import pytest
import torch

from lean_env import REPO, run_lean

sys.path.insert(0, str(REPO / "benchmarks"))
import gpu_check  # noqa: E402


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[dict, dict, str]:
    """``gpu_check.py --device cpu --tiny --out FILE`` run once, as CI does, with only the model libraries importable;
    first, in the same process, 90 s of the bundled speech read by ``gpu_check.bundled_speech`` (a line on stderr)."""
    from aero_agent.engines.whisper.checkpoint import cache_dir

    out = tmp_path_factory.mktemp("gpu_check") / "report.json"
    code = ("import runpy, sys\n"
            "import gpu_check\n"
            "clip = gpu_check.bundled_speech(90.0)\n"
            "print('bundled', clip.samples.dtype, len(clip.samples), float(abs(clip.samples).max()) <= 1.0,"
            " file=sys.stderr, flush=True)\n"
            f"sys.argv = ['gpu_check.py', '--device', 'cpu', '--tiny', '--out', {str(out)!r}]\n"
            f"runpy.run_path({str(REPO / 'benchmarks' / 'gpu_check.py')!r}, run_name='__main__')\n")
    result = run_lean(code, timeout=600, env={"AERO_CACHE_DIR": str(cache_dir()),
                                              "PYTHONPATH": f"{REPO}:{REPO / 'tests'}:{REPO / 'benchmarks'}"})
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    return json.loads(result.stdout), json.loads(out.read_text()), result.stderr


def test_smoke_mode_runs_every_section_and_writes_the_same_report(smoke):
    """Catches a section that rots between GPU runs (it would fail or go missing here), and a report on stdout that
    differs from the one written to --out."""
    printed, written, log = smoke
    assert printed == written and printed["ok"] and printed["mode"] == "tiny"
    for name in ("correctness", "full_size", "whisper"):
        assert printed[name]["ok"] and "error" not in printed[name] and f"{name}: ok" in log


def test_smoke_correctness_checks_logits_caching_and_restore(smoke):
    """Catches dropping a correctness check or its tolerance: bf16 and float32 logits against CPU float32, cached
    against recomputed greedy over 3 turns, and a device session restored on the CPU without recomputing."""
    report = smoke[0]["correctness"]
    assert report["logits_bfloat16_vs_cpu_float32"]["tolerance"] == gpu_check.LOGIT_TOLERANCE
    assert report["logits_bfloat16_vs_cpu_float32"]["relative"] <= gpu_check.LOGIT_TOLERANCE
    for dtype in ("bfloat16", "float32"):
        turns = report[f"cached_vs_recompute_{dtype}"]["turns"]
        assert len(turns) == 3 and all(t["cached_prefilled"] < t["full_prefilled"] for t in turns)
        assert report[f"restore_on_cpu_{dtype}"]["recomputed_prefix_tokens"] == 0
    assert report["cached_vs_recompute_float32"]["ok"] and report["restore_on_cpu_float32"]["equal"]


def test_smoke_full_size_path_measures_each_step(smoke):
    """Catches a KV cache that holds more than keys and values of the prompt (bytes per token off the on-paper
    figure), decoding that stops early, and a follow-up that re-prefills the audio."""
    full = smoke[0]["full_size"]
    run = full["runs"][0]
    assert (run["attention"], run["liger"]) == ("sdpa", False) and full["dtype"] == "bfloat16"
    assert run["kv_bytes_per_token"] == full["kv_bytes_per_token_on_paper"]
    assert run["decode_tokens"] == full["new_tokens"] == run["followup_generated_tokens"]
    assert run["followup_prefilled_tokens"] < 100 < run["prefix_tokens"] <= run["followup_reused_tokens"]
    assert run["windows"] == 2 and run["segments"] == 1
    for key in ("encoder_s", "prefill_s", "question_ttft_s", "decode_tokens_per_s", "followup_turn_s"):
        assert run[key] > 0
    assert run["end_to_end"]["followup_prefilled_tokens"] < 100
    assert set(full["skipped"]) == {"flash_attention_2", "liger"}


def test_full_size_shapes_are_aero_1_audio():
    """Catches wrong full-size shapes: the on-paper KV figure of Qwen2.5-1.5B in bf16 is 28,672 bytes per token."""
    dims = gpu_check.FULL_DIMS
    assert (dims["d_model"], dims["encoder_layers"]) == (1280, 32)
    assert (dims["hidden"], dims["layers"], dims["heads"], dims["kv_heads"], dims["intermediate"], dims["vocab"]) == \
        (1536, 28, 12, 2, 8960, 151936)
    per_token = dims["layers"] * 2 * dims["kv_heads"] * (dims["hidden"] // dims["heads"]) * 2
    assert per_token == gpu_check.ON_PAPER_KV_BYTES_PER_TOKEN == 28_672


def test_logit_comparison_fails_beyond_the_tolerance():
    """Catches a comparison that always passes."""
    reference = torch.linspace(-2.0, 2.0, 50).reshape(5, 10)
    assert gpu_check.compare_logits(reference + 0.05, reference, 0.05)["ok"]
    assert not gpu_check.compare_logits(reference + 0.2, reference, 0.05)["ok"]


def test_wer_counts_substitutions_insertions_and_deletions():
    """Catches a WER that ignores case and punctuation wrongly or miscounts edits."""
    assert gpu_check.wer("Ask not, what your country", "ask not what your country") == 0.0
    assert gpu_check.wer("ask what your country", "ask not what your country") == pytest.approx(0.2)
    assert gpu_check.wer("ask not what your great country can", "ask not what your country") == pytest.approx(0.4)


def test_a_failing_section_is_recorded_and_the_rest_still_runs():
    """Catches one broken section aborting the single device run (and losing every later measurement)."""
    report: dict = {}
    gpu_check.section(report, "broken", lambda: 1 / 0)
    gpu_check.section(report, "fine", lambda: {"ok": True})
    assert report["broken"]["ok"] is False and "ZeroDivisionError" in report["broken"]["error"]
    assert report["fine"]["ok"] is True


def test_bundled_speech_is_read_with_the_standard_library_only(smoke):
    """Catches reading the clips through soundfile (absent on the GPU image): the loader is importable and
    correct with audio decoding blocked, and gives 16 kHz float samples of the asked length."""
    line = next(line for line in smoke[2].splitlines() if line.startswith("bundled "))
    assert line.split() == ["bundled", "float32", str(90 * 16_000), "True"]
