"""What each ``aero-agent`` command does (``cmd_*``), on the core's sessions and store."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from aero_agent.errors import AeroError

if TYPE_CHECKING:
    from aero_agent.engines.base import EncodeProgress

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


def _open(args: argparse.Namespace, searchable: bool = True, events: bool = True):
    """The session of ``args.file``, through :meth:`AudioSession.open`; not ``searchable``: its passages are not
    embedded for search while it encodes (``transcribe`` prints the transcript: loading the sentence embedder
    would double its start-up); without ``events``: no sound-event detection (a transcript printed without them)."""
    from aero_agent.audio import load_audio

    transcription = _transcription(args)
    # a language or task the model cannot honour is refused before a long file is decoded; otherwise the
    # audio comes first, so a bad file is refused at once, without loading a model (nor importing torch)
    clip = None if not transcription.is_default else load_audio(_source(args.file), max_duration_s=args.max_duration)
    from aero_agent.engines import hearing_no_events, load_engine
    from aero_agent.retrieval import LexicalRetrieval
    from aero_agent.session import AudioSession
    from aero_agent.transcription import check_engine_options

    engine = load_engine(args.engine, args.model)
    if not events:
        engine = hearing_no_events(engine)
    if clip is None:
        check_engine_options(engine, transcription)
        clip = load_audio(_source(args.file), max_duration_s=args.max_duration)
    bar = ProgressBar(Path(clip.source).name) if clip.duration_s >= PROGRESS_MIN_S and not args.quiet else None
    session = AudioSession.open(clip, engine, bar, _reasoner(args), transcription=transcription,
                                retrieval=None if searchable else LexicalRetrieval(), speakers=args.speakers,
                                num_speakers=args.num_speakers, min_speakers=args.min_speakers,
                                max_speakers=args.max_speakers)
    if bar is not None:
        bar.close()
    if session.info.language_probability is not None and not args.quiet:
        print(f"aero-agent: language {session.info.language} (probability {session.info.language_probability:.2f})",
              file=sys.stderr)
    return session


def _transcription(args: argparse.Namespace):
    """``--language``, ``--task`` and the vocabulary as the session's options (an unknown code is refused here)."""
    from aero_agent.cli.vocabulary import vocabulary_arguments
    from aero_agent.transcription import TranscribeOptions

    return TranscribeOptions.of(args.language, args.task, getattr(args, "beam_size", None),
                                vocabulary=vocabulary_arguments(args))


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
    session = _open_stored(args)[0] if args.store else _open(args, searchable=False, events=_shows_events(args))
    transcript = session.transcribe(args.start, args.end)
    if args.format == "html":
        print(_html_page(session, transcript))
    elif args.format == "rttm":
        print(transcript.to_rttm(Path(session.info.source).stem))
    else:
        print(transcript.render(args.format, events=args.events))
    return 0


def _shows_events(args: argparse.Namespace) -> bool:
    """Whether ``transcribe``'s output shows sound events: JSON and HTML always, text and captions with ``--events``
    (the detector costs 4 % of a long transcription's CPU time and 0.12 CPU s of an 11-s one's, BENCHMARKS.md)."""
    return args.events or args.format in ("json", "html")


def cmd_events(args: argparse.Namespace) -> int:
    from aero_agent.render import events_text

    events = _open(args).events(args.kind, args.start, args.end)
    if args.json:
        print(json.dumps([e.model_dump() for e in events], indent=2))
    else:
        print(events_text(events, args.kind))
    return 0


def _html_page(session, transcript) -> str:
    """The self-contained page, with the recording (decoded again: the session keeps no samples) embedded."""
    from aero_agent.audio import load_audio
    from aero_agent.html_page import transcript_page

    return transcript_page(transcript, load_audio(session.info.source))


def cmd_ask(args: argparse.Namespace) -> int:
    session = _open_stored(args)[0] if args.store else _open(args)
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
    from aero_agent.cli.chat import ChatRepl, run_chat
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
    transcription = _transcription(args)
    new = store.find(path, transcription=transcription) is None  # a new session encodes: show its progress
    bar = ProgressBar(path.name) if new and not args.quiet else None
    session = store.open(path, progress=bar, reuse=True, speakers=args.speakers, num_speakers=args.num_speakers,
                         min_speakers=args.min_speakers, max_speakers=args.max_speakers, transcription=transcription)
    if bar is not None:
        bar.close()
    return session, store


def cmd_search(args: argparse.Namespace) -> int:
    from aero_agent.render import hit_line
    from aero_agent.retrieval import weak_note
    from aero_agent.store import SessionStore

    store = Path(args.store).expanduser()
    if not store.is_dir():
        raise AeroError(f"{store}: no such store folder")
    hits = SessionStore(store).search(args.query, args.k, session_ids=args.session, tags=args.tag, speaker=args.speaker,
                                       event=args.event)
    if args.json:
        print(json.dumps([h.model_dump() for h in hits], indent=2, ensure_ascii=False))
        return 0
    if not hits:
        print("No stored recording matches the query.")
    for hit in hits:
        print(f"{hit_line(hit)}\n   session {hit.session_id}: {hit.source}")
    if weak_note(hits):
        print(f"({weak_note(hits)})")
    return 0


def cmd_listen(args: argparse.Namespace) -> int:
    from aero_agent.engines import load_engine
    from aero_agent.cli.listen import Printer, file_chunks, listen, microphone_chunks, stdin_chunks
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
