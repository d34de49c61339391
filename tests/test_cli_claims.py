"""README claims about the command line: the refusals as a real subprocess exactly as a user would type it; the
quick start's main job (as typed, its words passed to the same entry point), the formats and ``--model`` through
``aero_agent.cli.main`` on the session's engine (a subprocess would load the models a second time, ~25 s)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from aero_agent.audio import load_audio
from aero_agent.cli import main
from aero_agent.data import EXAMPLE_TEXT, EXAMPLES, example_path
from aero_agent.evaluation import word_error_rate

CLI = [sys.executable, "-m", "aero_agent"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)


README = Path(__file__).resolve().parent.parent / "README.md"


def quick_start() -> list[str]:
    """The README's quick start: the lines of its first code block."""
    text = README.read_text("utf-8")
    block = text[text.index("## Quick start"):].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_quick_start_is_two_commands_and_the_tests_are_ci_s() -> None:
    """Catches a quick start that grows past two commands, or whose test command is not the one .ci/run runs."""
    install_and_run, install_and_test = quick_start()
    assert "aero-agent ask example:meeting" in install_and_run and "pip install" in install_and_run
    test_command = install_and_test.split("&&")[-1].strip()
    assert test_command == "python -m pytest -q -n 2 --dist loadfile tests"
    assert test_command in (README.parent / ".ci" / "run").read_text("utf-8").splitlines()


def test_quick_start_main_job(engine, capsys) -> None:
    """Catches the README's main job breaking, run as the quick start types it: who spoke when (two
    speakers, timed labelled turns), then each question with timed, labelled evidence, in order."""
    command = shlex.split(quick_start()[0].split("&&")[-1])
    assert command[:3] == ["aero-agent", "ask", "example:meeting"]
    assert main(command[1:]) == 0
    who, *answers = capsys.readouterr().out.split("\nQ: ")
    assert who.startswith("Who spoke when (2 speakers: SPEAKER_00 ")
    turns = re.findall(r"^\[(\d\d):(\d\d)-\d\d:\d\d\] (SPEAKER_0[01]): ", who, re.M)
    assert len(turns) >= 6 and {t[2] for t in turns} == {"SPEAKER_00", "SPEAKER_01"}
    assert all(a[2] != b[2] for a, b in zip(turns, turns[1:]))  # a turn is a run of one speaker
    files, login = answers
    assert files.startswith("where can they find the project files?")
    assert re.search(r"\[00:3\d-00:4\d\] SPEAKER_0[01]: No, on the desktop .*project documents link", files)
    assert login.startswith("what do they need to log in?") and re.search(r"\[00:5\d-00:5\d\] SPEAKER_0[01]: .*username", login)


def test_examples_subcommand_lists_every_bundled_recording() -> None:
    """Catches a missing or wrong example: every bundled name, with a path that exists."""
    result = run("examples")
    assert result.returncode == 0, result.stderr
    rows = dict(line.split("\t") for line in result.stdout.strip().splitlines())
    assert set(rows) == {f"example:{name}" for name in EXAMPLES}
    assert all(Path(path).is_file() and Path(path) == example_path(name.split(":")[1]) for name, path in rows.items())


def test_vtt_json_and_end(engine, capsys) -> None:
    """Catches ``--end`` ignored and the vtt/json formats broken (in this process, on the session's engine)."""
    assert main(["transcribe", "example:jfk", "--format", "vtt", "--end", "7"]) == 0
    vtt = capsys.readouterr().out
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> ") and "fellow Americans" in vtt
    assert "ask what you can do for your country" not in vtt  # that sentence starts at 8 s
    assert main(["transcribe", "example:jfk", "--format", "json", "--start", "8", "--end", "11"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["segments"] and all(s["end"] > 8 and s["start"] < 11 for s in data["segments"])
    assert "ask what you can do for your country" in " ".join(s["text"] for s in data["segments"]).lower()


def _empty(d: Path) -> Path:
    (d / "empty.wav").write_bytes(b"")
    return d / "empty.wav"


def _truncated(d: Path) -> Path:
    (d / "cut.wav").write_bytes(example_path("jfk").read_bytes()[:4000])  # the header promises far more
    return d / "cut.wav"


def _nan(d: Path) -> Path:
    samples = load_audio(example_path("jfk")).samples.copy()
    samples[1000:1100] = np.nan
    sf.write(d / "nan.wav", samples, 16000, subtype="FLOAT")
    return d / "nan.wav"


@pytest.mark.parametrize("make,extra,expected", [
    (_empty, (), "empty"),
    (_truncated, (), "truncated"),
    (_nan, (), "NaN"),
    (lambda d: example_path("jfk"), ("--max-duration", "5"), "over the 5 s cap"),
])
def test_bad_files_exit_2_with_one_line(tmp_path: Path, make, extra, expected: str) -> None:
    """Catches a traceback or a zero exit for an empty, truncated, NaN or over-cap file."""
    result = run("transcribe", str(make(tmp_path)), *extra)
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert expected.lower() in result.stderr.lower(), result.stderr


def test_model_option_loads_a_local_hugging_face_whisper_folder(engine, tmp_path: Path, capsys, monkeypatch) -> None:
    """Catches ``--model DIR`` ignored or broken: a transformers Whisper folder (the embedded weights saved
    with ``save_pretrained``, plus tokenizer.json and generation_config.json) transcribes the same words.
    In this process; the engine it loads is dropped from the engine cache afterwards."""
    from aero_agent import engines

    monkeypatch.setattr(engines, "_cache", dict(engines._cache))
    folder = tmp_path / "whisper-tiny-hf"
    engine.model.save_pretrained(folder)
    engine.tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "generation_config.json").write_text(json.dumps({
        "suppress_tokens": list(engine.special.suppress), "begin_suppress_tokens": list(engine.special.suppress_begin)}))
    assert main(["transcribe", "example:jfk", "--model", str(folder), "--format", "json", "-q"]) == 0
    loaded = engines._cache[("whisper", str(folder))]
    assert loaded is not engine and loaded.model_id == str(folder)
    text = " ".join(s["text"] for s in json.loads(capsys.readouterr().out)["segments"])
    assert word_error_rate([EXAMPLE_TEXT["jfk"]], [text]).wer == 0.0
    assert main(["transcribe", "example:jfk", "--model", str(tmp_path / "nowhere")]) == 2
    assert "aero-agent: error:" in capsys.readouterr().err
