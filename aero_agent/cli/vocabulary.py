"""The CLI's vocabulary: ``--vocabulary``/``--vocabulary-file`` on every command that transcribes, and
``aero-agent vocabulary list|add|remove --store DIR`` for a store's list (registered by ``aero_agent.cli``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from aero_agent.vocabulary import (MAX_TERMS, Vocabulary, change_store_vocabulary, enrolled_names,
                                   read_store_vocabulary, vocabulary_text)


def add_vocabulary_options(p: argparse.ArgumentParser) -> None:
    """``--vocabulary "a,b,c"`` and ``--vocabulary-file F`` (one term a line) on a command that transcribes."""
    p.add_argument("--vocabulary", default=None, metavar="TERMS",
                   help="names and terms to spell as written, comma-separated: \"Ebenezer,Kubernetes\"")
    p.add_argument("--vocabulary-file", default=None, metavar="FILE",
                   help="a file of vocabulary terms, one a line (# starts a comment)")


def vocabulary_arguments(args: argparse.Namespace) -> Vocabulary:
    """The command's vocabulary: ``--vocabulary``'s terms, then the file's."""
    given = Vocabulary.of(getattr(args, "vocabulary", None))
    path = getattr(args, "vocabulary_file", None)
    return given | Vocabulary.read(path) if path else given


def index_vocabulary(args: argparse.Namespace) -> tuple[str, ...]:
    """``index``'s vocabulary: the command's terms, then the list of the store it fills and its enrolled voices'
    names (its engine processes open their sessions in scratch stores of their own)."""
    root = Path(args.store).expanduser()
    listed = vocabulary_arguments(args) | read_store_vocabulary(root)
    return (listed | enrolled_names(root, MAX_TERMS - len(listed))).terms


def cmd_vocabulary(args: argparse.Namespace) -> int:
    root = Path(args.store).expanduser()
    if not root.is_dir():
        from aero_agent.errors import AeroError

        raise AeroError(f"{root}: no such store folder")
    terms = Vocabulary.of(list(args.terms)) | (Vocabulary.read(args.file) if args.file else Vocabulary())
    updated = change_store_vocabulary(root, args.action, terms)
    if args.action == "list":  # the terms alone, one a line, for scripts
        for term in updated:
            print(term)
    else:
        print(f"aero-agent: {vocabulary_text(updated).splitlines()[0]}")
    return 0


def add_vocabulary_command(sub: Any) -> None:
    """Register ``vocabulary`` on the main parser's subcommands."""
    p = sub.add_parser("vocabulary", help="list or change a store's vocabulary (applied to every session it opens)",
                       description="A store's custom vocabulary: names, products and jargon that every session "
                                   "the store opens (transcribe/chat/index/listen with --store, aero-mcp) is "
                                   "decoded with, after the call's own terms.")
    p.add_argument("action", choices=["list", "add", "remove", "set"])
    p.add_argument("terms", nargs="*", help="terms to add or remove (each one argument: quote multi-word terms)")
    p.add_argument("--file", default=None, metavar="FILE", help="also the terms of this file, one a line")
    p.add_argument("--store", required=True, metavar="DIR", help="the session store folder")
    p.set_defaults(func=cmd_vocabulary)
