"""The ``aero-agent chat`` REPL: questions in the user's own words and slash commands over one open session.

Each line is handled by :meth:`ChatRepl.handle`, which returns the text to show, so the loop in :func:`run_chat`
only reads and writes. Times are typed as seconds or ``mm:ss`` and always shown as ``[mm:ss]``. A bad line prints
one ``error:`` line and the chat goes on.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from aero_agent.errors import AeroError, InvalidArgumentError
from aero_agent.render import answer_text, evidence_lines, hit_line, speakers_text, who_spoke_when
from aero_agent.speakers.base import DiarizationOptions, speaker_label
from aero_agent.transcript import check_event_kind, clock

if TYPE_CHECKING:
    from aero_agent.session import AudioSession

SEARCH_USAGE = "/search WORDS [--speaker SPEAKER_01|1] [--from mm:ss] [--to mm:ss] [--event music] [-k N]"
HELP = ("Type a question in your own words, or:\n"
        f"  {SEARCH_USAGE}   passages by meaning and words\n"
        "  /speakers                  who speaks, how much and when (found now if the session has none)\n"
        "  /transcript [--from mm:ss] [--to mm:ss]   the timed transcript, a line per speaker's turn\n"
        "  /history                   the questions and answers so far (kept across runs with --store)\n"
        "  /help, /quit (or Ctrl-D)")
READLINE_FILE = ".aero-chat-history"
"""Typed lines are kept here, in the ``--store`` folder, for the arrow keys of the next run."""


def parse_time(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``1:30`` or ``1:02:03``; :class:`InvalidArgumentError` otherwise."""
    value = text.strip().lower().removesuffix("s")
    try:
        parts = [float(p) for p in value.split(":")]
    except ValueError:
        parts = []
    if not 1 <= len(parts) <= 3 or any(p < 0 for p in parts) or any(p >= 60 for p in parts[1:]):
        raise InvalidArgumentError(f"{text!r} is not a time; write seconds (90) or minutes:seconds (1:30)")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds


def parse_speaker(text: str) -> str:
    """``SPEAKER_01`` from ``SPEAKER_01``, ``speaker_01``, ``01`` or ``1``."""
    return speaker_label(int(text)) if text.isdigit() else text.upper()


@dataclass(frozen=True)
class Filters:
    """What a ``/search`` or ``/transcript`` line asks for besides its words."""

    words: str = ""
    speaker: str | None = None
    start_s: float | None = None
    end_s: float | None = None
    k: int = 5
    event: str | None = None

    def describe(self) -> str:
        """``, said by SPEAKER_01, between [01:00] and [02:00]``: the limits, for a message that nothing matched."""
        parts = [f"said by {self.speaker}"] if self.speaker else []
        if self.start_s is not None or self.end_s is not None:
            lo = "[00:00]" if self.start_s is None else f"[{clock(self.start_s)}]"
            hi = "the end" if self.end_s is None else f"[{clock(self.end_s)}]"
            parts.append(f"between {lo} and {hi}")
        if self.event:
            parts.append(f"over {self.event}")
        return "".join(f", {p}" for p in parts)


_OPTIONS = {"--speaker": "speaker", "-s": "speaker", "--from": "start_s", "--to": "end_s", "-k": "k", "--event": "event"}


def parse_filters(arguments: str) -> Filters:
    """Split ``words --speaker S --from T --to T -k N`` (options anywhere) into :class:`Filters`."""
    try:
        tokens = shlex.split(arguments)
    except ValueError as exc:
        raise InvalidArgumentError(f"cannot read {arguments!r}: {exc}") from exc
    words: list[str] = []
    found: dict[str, object] = {}
    i = 0
    while i < len(tokens):
        name = _OPTIONS.get(tokens[i])
        if name is None:
            words.append(tokens[i])
            i += 1
            continue
        if i + 1 == len(tokens):
            raise InvalidArgumentError(f"{tokens[i]} needs a value; usage: {SEARCH_USAGE}")
        value = tokens[i + 1]
        if name == "speaker":
            found[name] = parse_speaker(value)
        elif name == "k":
            if not value.isdigit():
                raise InvalidArgumentError(f"-k needs a whole number, got {value!r}")
            found[name] = int(value)
        elif name == "event":
            found[name] = check_event_kind(value)
        else:
            found[name] = parse_time(value)
        i += 2
    filters = Filters(words=" ".join(words), **found)  # type: ignore[arg-type]
    if filters.start_s is not None and filters.end_s is not None and filters.end_s <= filters.start_s:
        raise InvalidArgumentError(f"--to [{clock(filters.end_s)}] is not after --from [{clock(filters.start_s)}]")
    return filters


class ChatRepl:
    """The chat's commands over one session; ``speakers`` is how to find speakers when ``/speakers`` asks."""

    def __init__(self, session: AudioSession, speakers: DiarizationOptions | None = None) -> None:
        self.session = session
        self.speakers = speakers or DiarizationOptions()

    def banner(self, store: Path | None = None) -> str:
        info = self.session.info
        who = "" if info.speakers is None else f", {info.speakers} speaker{'s' if info.speakers != 1 else ''}"
        lines = [f"{Path(info.source).name}: {clock(info.duration_s)} long, engine {info.engine}{who}."]
        if store is not None:
            questions = sum(1 for t in self.session.history if t.role == "user")
            lines.append(f"Session {info.id} in {store}"
                         + (f": {questions} earlier question{'s' if questions != 1 else ''} (/history)."
                            if questions else " (kept for the next run)."))
        lines.append("Type a question, or /search WORDS [--speaker S] [--from mm:ss] [--to mm:ss], /speakers, "
                     "/transcript, /history, /help, /quit.")
        return "\n".join(lines)

    def handle(self, line: str) -> str | None:
        """The reply to one input line; None to end the chat."""
        line = line.strip()
        if not line:
            return ""
        command, _, rest = line.partition(" ") if line.startswith("/") else ("", "", line)
        if command in ("/quit", "/exit", "/q"):
            return None
        handlers = {"/help": lambda _: HELP, "/search": self.search, "/speakers": lambda _: self.show_speakers(),
                    "/transcript": self.transcript, "/history": lambda _: self.history(), "": self.ask}
        if command not in handlers:
            return f"error: unknown command {command}; /help lists them"
        try:
            return handlers[command](rest)
        except AeroError as exc:  # a bad line never ends the chat
            return f"error: {exc}"

    def ask(self, question: str) -> str:
        return answer_text(self.session.ask(question))

    def search(self, arguments: str) -> str:
        filters = parse_filters(arguments)
        hits = self.session.search(filters.words, filters.k, speaker=filters.speaker, start_s=filters.start_s,
                                   end_s=filters.end_s, event=filters.event)
        if not hits:
            return f"No passage matches {filters.words!r}{filters.describe()}."
        weak = f"No passage matches {filters.words!r}{filters.describe()} well; the closest (weak):\n" \
            if hits[0].label == "weak" else ""
        return weak + "\n".join(hit_line(hit) for hit in hits)

    def show_speakers(self) -> str:
        transcript = self.session.transcribe()
        if not transcript.diarized:
            options = self.speakers
            transcript = self.session.ensure_speakers(True, options.num_speakers, options.min_speakers,
                                                      options.max_speakers)
        return speakers_text(transcript.speakers(), transcript.diarized)

    def transcript(self, arguments: str) -> str:
        filters = parse_filters(arguments)
        if filters.words or filters.speaker or filters.event or filters.k != Filters.k:
            raise InvalidArgumentError("/transcript takes only --from and --to; use /search for words or a speaker")
        part = self.session.transcribe(filters.start_s, filters.end_s)
        if not part.segments:
            return f"No speech{filters.describe()}."
        return who_spoke_when(part) if part.has_speakers else evidence_lines(part.segments)

    def history(self) -> str:
        turns = self.session.history
        if not turns:
            return "No questions yet."
        return "\n".join(f"[{t.time[:16].replace('T', ' ')}] {t.role}: {t.content}" for t in turns)


def run_chat(repl: ChatRepl, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout,
             store: Path | None = None) -> int:
    """Read lines until ``/quit`` or the end of input; on a terminal with a prompt, line editing and (with
    ``store``) the typed lines of earlier runs."""
    interactive = stdin.isatty() and out.isatty()
    saved = _readline(store) if interactive else None
    out.write(repl.banner(store) + "\n")
    out.flush()
    try:
        while True:
            try:
                line = input("> ") if interactive else stdin.readline()
            except EOFError:
                line = ""
            except KeyboardInterrupt:  # Ctrl-C drops the line being typed, as in a shell
                out.write("\n(Ctrl-D or /quit leaves)\n")
                continue
            if not line:
                if interactive:
                    out.write("\n")
                return 0
            try:
                reply = repl.handle(line)
            except KeyboardInterrupt:
                reply = "(interrupted)"
            if reply is None:
                return 0
            if reply:
                out.write(reply + "\n")
            out.flush()
    finally:
        if saved is not None:
            saved()


def _readline(store: Path | None):
    """Line editing for the prompt; returns the function that saves typed lines into ``store`` (None without)."""
    try:
        import readline
    except ImportError:  # Windows without pyreadline: plain input
        return None
    if store is None:
        return None
    path = store / READLINE_FILE
    if path.is_file():
        try:
            readline.read_history_file(path)
        except OSError:
            pass

    def save() -> None:
        try:
            readline.set_history_length(1000)
            readline.write_history_file(path)
            os.chmod(path, 0o600)  # typed questions may be private
        except OSError:
            pass

    return save
