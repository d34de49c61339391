"""The aero-agent command, run as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "aero_agent"]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, text=True, timeout=300)


def test_transcribe_formats() -> None:
    srt = run("transcribe", "example:jfk", "--format", "srt")
    assert srt.returncode == 0, srt.stderr
    assert srt.stdout.startswith("1\n00:00:00,000 --> ") and "country" in srt.stdout
    txt = run("transcribe", "example:jfk", "--start", "8")
    assert txt.returncode == 0 and txt.stdout.strip().startswith("ask what you can do")


def test_ask() -> None:
    """(The chat runs on a terminal in test_chat_repl.py, and from a pipe there too.)"""
    ask = run("ask", "example:ami-short", "what can you call me", "--json")
    assert ask.returncode == 0, ask.stderr
    assert "\"turn\": 1" in ask.stdout and "call me" in ask.stdout


@pytest.mark.parametrize("make,expected", [
    (lambda d: d / "missing.wav", "no such file"),
    (lambda d: d, "not a regular file"),
    (lambda d: (d / "noise.wav").write_bytes(b"\x13" * 3000) and d / "noise.wav", "not decodable"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, make, expected: str) -> None:
    result = run("transcribe", str(make(tmp_path)))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert expected in result.stderr


def test_long_audio_shows_progress_on_stderr(tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    from aero_agent.audio import load_audio
    from aero_agent.data import example_path

    samples = load_audio(example_path("sonnet")).samples
    sf.write(tmp_path / "long.wav", np.concatenate([samples, samples]), 16000)
    result = run("transcribe", str(tmp_path / "long.wav"))
    assert result.returncode == 0
    assert "windows" in result.stderr and "[###" in result.stderr
    assert result.stdout.lower().count("beauty's rose") == 2
