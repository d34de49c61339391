"""The aero-agent command: bad input through a real subprocess (``python -m aero_agent``, which refuses a bad file
without loading a model), the rest through ``aero_agent.cli.main`` in this process, on the session's engine (the
quick start's main job runs as a real subprocess, with a model, in test_cli_claims.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from aero_agent.cli import main

CLI = [sys.executable, "-m", "aero_agent"]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, text=True, timeout=300)


def test_transcribe_formats(engine, capsys) -> None:
    """Catches: --format not reaching the output, --start ignored or the times made relative to it: the SRT of
    the part from 8 s (the plain-text format is checked in the long-audio test below)."""
    assert main(["transcribe", "example:jfk", "--format", "srt", "--start", "8"]) == 0
    srt = capsys.readouterr().out
    number, times, text = srt.splitlines()[:3]
    assert number == "1" and re.fullmatch(r"00:00:0[7-9],\d{3} --> 00:00:1[01],\d{3}", times), times
    assert text.startswith("ask what you can do") and "country" in text
    assert "ask not" not in srt  # the first sentence (0-8 s) is left out


def test_ask(engine, capsys) -> None:
    """(The chat runs on a terminal in test_chat_repl.py, and from a pipe there too.)"""
    assert main(["ask", "example:ami-short", "what can you call me", "--json"]) == 0
    out = capsys.readouterr().out
    assert "\"turn\": 1" in out and "call me" in out


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


def test_long_audio_shows_progress_on_stderr(engine, tmp_path: Path, capsys) -> None:
    """Catches: no progress bar for a file of a minute or more, part of a long file not transcribed, the default
    plain-text format wrong. The sonnet (53 s) then jfk (11 s): just over the bar's 60 s."""
    import numpy as np
    import soundfile as sf

    from aero_agent.audio import load_audio
    from aero_agent.data import example_path

    samples = [load_audio(example_path(name)).samples for name in ("sonnet", "jfk")]
    sf.write(tmp_path / "long.wav", np.concatenate(samples), 16000)
    assert main(["transcribe", str(tmp_path / "long.wav")]) == 0
    result = capsys.readouterr()
    assert "windows" in result.err and "[###" in result.err
    text = result.out.lower()
    assert text.count("beauty's rose") == 1 and "ask what you can do for your country" in text
    assert "-->" not in text and not text.lstrip().startswith("1\n")  # plain text, not subtitles
