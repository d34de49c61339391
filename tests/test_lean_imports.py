"""The engines import and run with only torch, transformers, safetensors, tokenizers and numpy (issue 16)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lean_env import BLOCKED, REPO, run_lean


def test_the_blocker_really_blocks():
    """Catches a blocker that blocks nothing (which would make the tests below pass vacuously)."""
    result = run_lean("import soundfile")
    assert result.returncode != 0 and "soundfile" in result.stderr


@pytest.fixture(scope="module")
def lean_run(tmp_path_factory) -> subprocess.CompletedProcess:
    """One lean process (torch and transformers imported once): the engines and model code imported, then a tiny
    Aero checkpoint loaded, 35 s encoded and a question answered."""
    folder = tmp_path_factory.mktemp("lean") / "tiny"
    code = (
        "import aero_agent, aero_agent.errors, aero_agent.persistence\n"
        "from aero_agent.engines import load_engine\n"
        "from aero_agent.engines.aero import AeroEngine\n"
        "from aero_agent.engines.aero import checkpoint, config, conversation, kv_cache, model, processor\n"
        "from aero_agent.engines.whisper import WhisperEngine\n"
        "from aero_agent.engines.whisper import checkpoint, decoding, features, chunking, ct2_format\n"
        "print('imported', flush=True)\n"
        "import numpy as np\n"
        "from aero_tiny import write_tiny_checkpoint\n"
        "import gpu_check\n"
        f"folder = write_tiny_checkpoint({str(folder)!r}, d_model=32, encoder_layers=1, encoder_heads=2,"
        " encoder_ffn=64, hidden=32, layers=1, heads=2, kv_heads=1, intermediate=64)\n"
        "engine = AeroEngine(folder, max_new_tokens=3)\n"
        "encoded = engine.encode(gpu_check.bundled_speech(35.0))\n"
        "print('tokens', engine.answer(encoded, 'Who speaks first?', []).generated_tokens)\n"
    )
    return run_lean(code, env={"PYTHONPATH": f"{REPO}:{REPO / 'tests'}:{REPO / 'benchmarks'}"})


def test_engines_and_model_code_import_without_audio_store_or_skins(lean_run):
    """Catches an eager import of audio decoding (soundfile/soxr/av), the store, sessions, MCP or LangChain on the
    import path of the Aero engine, the Whisper engine and its model code, or ``aero_agent`` itself."""
    assert lean_run.stdout.startswith("imported\n"), lean_run.stderr[-2000:]


def test_the_aero_engine_encodes_and_answers_lean(lean_run):
    """Catches a lazy import that still happens at run time: a tiny checkpoint is loaded, 35 s encoded and a
    question answered with the blocked modules unimportable."""
    assert lean_run.returncode == 0, lean_run.stderr[-2000:]
    assert "tokens 3" in lean_run.stdout


def test_importing_aero_agent_loads_no_audio_decoder_until_asked():
    """Catches ``aero_agent/__init__`` importing its public names eagerly: nothing heavy loads on import, and
    ``aero_agent.SessionStore`` still works when asked for."""
    code = ("import sys, aero_agent\n"
            f"assert not any(m in sys.modules for m in {BLOCKED!r}), sorted(set(sys.modules) & set({BLOCKED!r}))\n"
            "store_cls = aero_agent.SessionStore\n"
            "assert 'aero_agent.store' in sys.modules and store_cls.__name__ == 'SessionStore'\n"
            "from aero_agent import load_audio, Transcript\n"
            "print('ok')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-2000:]
