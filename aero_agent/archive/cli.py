"""``aero-agent index``: the archive job from the shell (registered by ``aero_agent.cli``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_index_command(sub: Any, engine_names: tuple[str, ...]) -> None:
    """Register ``index`` on the main parser's subcommands."""
    from aero_agent.cli.vocabulary import add_vocabulary_options
    p = sub.add_parser("index", help="index every recording under folders into a store, resumably",
                       description="Open every audio and video file under PATH... as a stored session (transcript, "
                                   "speakers with --speakers, passage embeddings, tags) so that `aero-agent search` "
                                   "finds them. Files already in the store are skipped; a rerun does what is left.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (walked recursively)")
    p.add_argument("--store", required=True, metavar="DIR", help="the session store folder")
    p.add_argument("--speakers", action="store_true", help="label speakers (diarization) too")
    p.add_argument("--engine", choices=engine_names, default="whisper", help="speech engine (default: whisper)")
    p.add_argument("--model", default=None, help="checkpoint folder or hub id (default: embedded tiny.en)")
    add_vocabulary_options(p)
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="engine processes (or Ray actors); the cores are shared out among them (default 1)")
    p.add_argument("--glob", action="append", default=[], metavar="G",
                   help="only files matching this pattern, instead of the media extensions (repeatable)")
    p.add_argument("--retry-failed", action="store_true", help="try unchanged files that failed before again")
    p.add_argument("--max-duration", type=float, default=4 * 3600, help="refuse longer audio (seconds)")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run on Ray: a local Ray without ADDRESS, else join that cluster ('auto' for `ray start`'s)")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary at the end")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=cmd_index)


def cmd_index(args: argparse.Namespace) -> int:
    from aero_agent.archive.job import IndexOptions, run_index
    from aero_agent.archive.progress import failed_line
    from aero_agent.archive.worker import EngineOptions
    from aero_agent.cli.vocabulary import index_vocabulary

    options = IndexOptions(store=args.store, workers=args.workers, globs=tuple(args.glob),
                           retry_failed=args.retry_failed, ray=args.ray is not None, ray_address=args.ray or None,
                           engine=EngineOptions(args.engine, args.model, args.speakers,
                                                max_duration_s=args.max_duration,
                                                vocabulary=index_vocabulary(args)))
    summary = run_index(args.paths, options, progress=not args.quiet)
    if args.json:
        print(summary.model_dump_json(indent=2))
    else:
        print(summary.line())
        for failed in summary.failed:
            print(f"  failed: {failed_line(failed.path, failed.reason)}", file=sys.stderr)
    return 1 if summary.failed else 0
