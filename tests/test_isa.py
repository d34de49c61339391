"""Per-instruction-set choices honour the AVX2 cap, so a capped run takes a real AVX2 machine's path (issue 26)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CODE = ("import json, torch; from aero_agent.engines.whisper.isa import cpu_isa;"
        "from aero_agent.engines.whisper.options import encoder_dtype, encoder_int8; i = cpu_isa();"
        "print(json.dumps({'capability': i.capability, 'capped': i.capped, 'bf16': i.native_bf16,"
        "'dtype': str(encoder_dtype('auto', True)), 'int8': encoder_int8(None, True),"
        "'int8_multilingual': encoder_int8(None, False), 'line': i.describe()}))")


def _run(extra: dict[str, str]) -> dict:
    from aero_agent.engines.whisper.isa import CAP_VARIABLES

    env = {k: v for k, v in os.environ.items() if k not in CAP_VARIABLES} | extra
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_avx2_cap_sends_the_encoder_down_the_float32_path() -> None:
    """Catches bfloat16 chosen from the CPU's flags alone (torch's own check ignores ATEN_CPU_CAPABILITY): a capped
    run would then time a path no AVX2 machine takes."""
    from aero_agent.engines.whisper.isa import AVX2_CAP

    capped = _run(AVX2_CAP)
    assert capped["capability"] == "AVX2" and capped["capped"] and not capped["bf16"]
    assert capped["dtype"] == "torch.float32" and "capped" in capped["line"]
    assert capped["int8"] and not capped["int8_multilingual"]  # AVX2: int8 encoder linears, English-only models
    native = _run({})
    assert not native["capped"] and "native" in native["line"]
    if native["capability"].startswith("AVX512"):  # nothing changes on AVX-512: bfloat16 or float32 as before
        assert not native["int8"]
    if native["capability"].startswith("AVX512") and native["bf16"]:  # this machine: AVX512-BF16
        assert native["dtype"] == "torch.bfloat16"


def test_benchmark_workers_run_capped_when_asked() -> None:
    """Catches ``--isa avx2`` not reaching the worker processes, or a cap leaking into native runs."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from _common import isa_line, worker_env

    assert worker_env(2, isa="avx2")["ATEN_CPU_CAPABILITY"] == "avx2"
    assert worker_env(2, isa="avx2")["CT2_FORCE_CPU_ISA"] == "AVX2"
    os.environ["ONEDNN_MAX_CPU_ISA"] = "AVX2"
    try:
        assert "ONEDNN_MAX_CPU_ISA" not in worker_env(2, isa="native")
    finally:
        del os.environ["ONEDNN_MAX_CPU_ISA"]
    assert "CAPPED to AVX2" in isa_line("avx2") and "native" in isa_line("native")
