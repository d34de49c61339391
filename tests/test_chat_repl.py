"""``aero-agent chat`` as a terminal program, on the bundled two-speaker meeting, plus its line parsing.

The meeting is opened once, in this process, into a session store (as an earlier ``chat --store`` run would
have left it, with one question asked); ``chat --store`` then runs on a pseudo-terminal, resumes that session
without transcribing again, and is typed into. A piped chat runs in this process on the same session."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest

from aero_agent.cli.chat import READLINE_FILE, ChatRepl, Filters, parse_filters, parse_time, run_chat
from aero_agent.data import example_path
from aero_agent.errors import InvalidArgumentError
from aero_agent.store import SessionStore
from terminal import Terminal

SPAN = re.compile(r"\[\d\d:\d\d-\d\d:\d\d\]")
EARLIER = "who is the marketing expert?"  # asked before the terminal run
QUESTION = "where can they find the project files?"  # the recording says "project documents link"
RECALLED = "/search x --from 1:xx"  # typed in an earlier run: in the store's readline file


@pytest.fixture(scope="module")
def store_dir(engine, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("chat") / "store"
    store = SessionStore(root, engine)
    try:
        session = store.open(example_path("meeting"), num_speakers=2)
        session.ask(EARLIER)
    finally:
        store.shutdown()
    (root / READLINE_FILE).write_text(RECALLED + "\n", "utf-8")
    return root


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


def test_piped_chat_answers_and_keeps_going_after_a_bad_line(engine, store_dir: Path):
    """Catches the chat prompting into a pipe, a bad line ending it, or turns missing from /history (stdin not a
    terminal: no prompt, no line editing). Asks nothing, so the store is left as it was."""
    store = SessionStore(store_dir, engine)
    try:
        session = store.get(store.find(example_path("meeting")).id)
        out = io.StringIO()
        lines = "/search project documents\n/search   \n/nope\n/history\n/quit\nnever read\n"
        assert run_chat(ChatRepl(session), io.StringIO(lines), out) == 0
    finally:
        store.shutdown()
    text = out.getvalue()
    assert "> " not in text and "1. [00:" in text and "documents link" in text
    assert "error: query must be a non-empty string" in text and "error: unknown command /nope" in text
    assert f"user: {EARLIER}" in text and "never read" not in text


def test_chat_on_a_terminal_finds_speakers_filters_and_resumes(engine, store_dir: Path):
    """Catches a chat that prints nothing when nothing matches, ignores --speaker or the time range, shows times
    in seconds, has no /speakers, or forgets the session (its questions and typed lines) between runs."""
    chat = Terminal([sys.executable, "-m", "aero_agent", "chat", "example:meeting", "--num-speakers", "2",
                     "--store", str(store_dir)])
    banner = chat.expect("\n> ")
    assert "2 speakers" in banner and "1 earlier question (/history)" in banner
    assert "windows" not in banner  # resumed: no progress bar, nothing encoded again
    assert f"user: {EARLIER}" in chat.command("/history")
    speakers = chat.command("/speakers")
    assert "2 speakers:" in speakers and "SPEAKER_00:" in speakers and "SPEAKER_01:" in speakers
    assert "No passage matches 'giraffe migration' well; the closest (weak):" in chat.command("/search giraffe migration")
    hits = chat.command("/search project documents")
    top = next(line for line in hits.splitlines() if line.startswith("1. "))
    assert "documents link" in top and SPAN.search(top)
    owner = re.search(r"(SPEAKER_0[01]):", top).group(1)
    other = "SPEAKER_01" if owner == "SPEAKER_00" else "SPEAKER_00"
    others = chat.command(f"/search project documents --speaker {other}")
    assert "No passage matches 'project documents', said by " + other in others and "documents link" not in others
    early = chat.command(f"/search project documents --speaker {owner} --to 0:30")
    assert "No passage matches 'project documents', said by " + owner + ", between [00:00] and [00:30]" in early
    assert "documents link" not in early
    within = chat.command(f"/search project documents --speaker {owner[-1]} --from 0:35 --to 0:45")
    assert "1. " in within and "documents link" in within
    answer = chat.command(QUESTION)
    assert "project documents link" in answer and SPAN.search(answer)
    # the up arrow, past the eight lines typed above (extra presses stay at the oldest), to the one typed in an
    # earlier run; and a bad line does not end the chat
    assert "error: '1:xx' is not a time" in chat.command("\x1b[A" * 12)
    chat.type("\x04")  # Ctrl-D
    assert chat.wait() == 0

    store = SessionStore(store_dir, engine)
    try:  # the new turn is kept for the next run, and so are the lines typed
        history = store.get(store.find(example_path("meeting")).id).history
    finally:
        store.shutdown()
    assert [t.content for t in history if t.role == "user"] == [EARLIER, QUESTION]
    typed = (store_dir / READLINE_FILE).read_text("utf-8")
    assert RECALLED in typed and QUESTION in typed


def test_speakers_command_finds_speakers_in_a_session_opened_without(engine):
    """Catches /speakers that only reports "not diarized" instead of finding the speakers then."""
    from aero_agent.session import AudioSession

    session = AudioSession.open(example_path("ami-short"), engine=engine)
    assert not session.transcribe().diarized
    reply = ChatRepl(session).handle("/speakers")
    assert reply.startswith("1 speaker:\nSPEAKER_00: ") and session.transcribe().diarized
