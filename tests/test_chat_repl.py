"""``aero-agent chat`` as a terminal program: run on a pseudo-terminal on the bundled two-speaker meeting, typed
into, and run again on the same ``--store`` to resume; plus its line parsing."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest

from aero_agent.chat import READLINE_FILE, ChatRepl, Filters, parse_filters, parse_time, run_chat
from aero_agent.data import example_path
from aero_agent.session import AudioSession
from aero_agent.errors import InvalidArgumentError
from terminal import Terminal

CHAT = [sys.executable, "-m", "aero_agent", "chat", "example:meeting", "--num-speakers", "2"]
SPAN = re.compile(r"\[\d\d:\d\d-\d\d:\d\d\]")
QUESTION = "where can they find the project files?"  # the recording says "project documents link"


def test_times_speakers_and_filters_parse():
    """Catches mm:ss read as seconds, options taken as search words, and bad values accepted."""
    assert parse_time("90") == parse_time("1:30") == parse_time("90s") == 90.0
    assert parse_time("1:02:03") == 3723.0
    found = parse_filters("remote control --speaker 1 --from 1:00 --to 2:00 -k 3")
    assert found == Filters(words="remote control", speaker="SPEAKER_01", start_s=60.0, end_s=120.0, k=3)
    assert parse_filters('"project documents" -s speaker_00').speaker == "SPEAKER_00"
    assert found.describe() == ", said by SPEAKER_01, between [01:00] and [02:00]"
    for bad in ("x --from 1:75", "x --from soon", "x --to", "x -k two", "x --from 2:00 --to 1:00"):
        with pytest.raises(InvalidArgumentError):
            parse_filters(bad)


def test_piped_chat_answers_and_keeps_going_after_a_bad_line(engine):
    """Catches the chat prompting into a pipe, a bad line ending it, or turns missing from /history (stdin not a
    terminal: no prompt, no line editing)."""
    session = AudioSession.open(example_path("jfk"), engine=engine)
    out = io.StringIO()
    lines = "/search country\nWhat should I ask?\n/search   \n/nope\n/history\n/quit\nnever read\n"
    assert run_chat(ChatRepl(session), io.StringIO(lines), out) == 0
    text = out.getvalue()
    assert "> " not in text and "1. [00:" in text and "Best-matching transcript evidence" in text
    assert "error: query must be a non-empty string" in text and "error: unknown command /nope" in text
    assert "user: What should I ask?" in text and "never read" not in text


def test_chat_on_a_terminal_finds_speakers_filters_and_resumes(tmp_path: Path):
    """Catches a chat that prints nothing when nothing matches, ignores --speaker or the time range, shows times
    in seconds, has no /speakers, or forgets the session (its questions and typed lines) between runs."""
    store = tmp_path / "store"
    first = Terminal([*CHAT, "--store", str(store)])
    banner = first.expect("\n> ")
    assert "2 speakers" in banner and "kept for the next run" in banner
    speakers = first.command("/speakers")
    assert "2 speakers:" in speakers and "SPEAKER_00:" in speakers and "SPEAKER_01:" in speakers
    assert "No passage matches 'remote control'." in first.command("/search remote control")
    hits = first.command("/search project documents")
    top = next(line for line in hits.splitlines() if line.startswith("1. "))
    assert "documents link" in top and SPAN.search(top)
    owner = re.search(r"(SPEAKER_0[01]):", top).group(1)
    other = "SPEAKER_01" if owner == "SPEAKER_00" else "SPEAKER_00"
    assert "No passage matches 'project documents', said by " + other in first.command(
        f"/search project documents --speaker {other}")
    assert "No passage matches 'project documents', said by " + owner + ", between [00:00] and [00:30]" in (
        first.command(f"/search project documents --speaker {owner} --to 0:30"))
    within = first.command(f"/search project documents --speaker {owner} --from 0:35 --to 0:45")
    assert "1. " in within and "documents link" in within
    answer = first.command(QUESTION)
    assert "project documents link" in answer and SPAN.search(answer)
    assert "error: '1:xx' is not a time" in first.command("/search x --from 1:xx")  # and the chat goes on
    first.type("\x04")  # Ctrl-D
    assert first.wait() == 0
    assert (store / READLINE_FILE).is_file()

    again = Terminal([*CHAT, "--store", str(store)])
    banner = again.expect("\n> ")
    assert "1 earlier question (/history)" in banner and "windows" not in banner  # resumed, not encoded again
    assert f"user: {QUESTION}" in again.command("/history")
    recalled = again.command("\x1b[A\x1b[A")  # up twice: the last line typed in the first run, /search x...
    assert "error: '1:xx' is not a time" in recalled
    again.type("/quit\r")
    assert again.wait() == 0
