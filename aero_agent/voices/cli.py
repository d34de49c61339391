"""``aero-agent voices list|enroll|rename|forget|name|identify --store DIR``: the voice library from the shell."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from aero_agent.errors import AeroError
from aero_agent.voices.render import voice_line, voices_text


def _voices(args: argparse.Namespace):
    from aero_agent.voices.service import Voices

    root = Path(args.store).expanduser()
    if not root.is_dir():
        raise AeroError(f"{root}: no such store folder")
    if args.action in ("forget", "name"):  # these must see sessions still encoding
        from aero_agent.store import SessionStore

        return SessionStore(root).voices
    return Voices(root)


def cmd_voices(args: argparse.Namespace) -> int:
    voices = _voices(args)
    action = args.action
    if action == "list":
        found = voices.list()
        if args.json:
            print(json.dumps([v.model_dump() for v in found], indent=2, ensure_ascii=False))
        else:
            print(voices_text(found))
        return 0
    if action == "enroll":
        _done(voices.enroll(args.name, args.files, merge=args.merge), "enrolled", args.json)
    elif action == "rename":
        _done(voices.rename(args.old, args.new, merge=args.merge), "renamed", args.json)
    elif action == "forget":
        voices.forget(args.name)
        print(f"forgot {args.name}: its embeddings and every label pointing to it are gone")
    elif action == "name":
        _done(voices.name_speaker(args.session, args.speaker, args.name), f"{args.speaker} of {args.session} named",
              args.json)
    elif action == "identify":
        found = voices.identify(args.session or None)
        for sid, speakers in sorted(found.items()):
            for label, v in sorted(speakers.items()):
                print(f"{sid} {label}: {v.name} ({v.by}, confidence {v.confidence})")
    return 0


def _done(info: Any, what: str, as_json: bool) -> None:
    if as_json:
        print(info.model_dump_json(indent=2))
    else:
        print(f"{what}: {voice_line(info)}")


def add_voices_command(sub: Any) -> None:
    """Register ``voices`` and its actions on the CLI's subparsers."""
    v = sub.add_parser("voices", help="named voices recognised across recordings (enroll, name, list, forget)")
    actions = v.add_subparsers(dest="action", required=True)

    def store(p: argparse.ArgumentParser) -> None:
        p.add_argument("--store", required=True, metavar="DIR", help="the session store folder")
        p.add_argument("--json", action="store_true", help="print JSON")

    p = actions.add_parser("list", help="every voice, with the sessions it was heard in")
    store(p)
    p = actions.add_parser("enroll", help="learn a voice from sample files of that voice alone (5 s to minutes)")
    p.add_argument("name")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--merge", action="store_true", help="add to the voice if the name is taken")
    store(p)
    p = actions.add_parser("rename", help="rename a voice in every session at once")
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--merge", action="store_true", help="join the two voices if the new name is taken")
    store(p)
    p = actions.add_parser("forget", help="remove a voice: its embeddings and every label pointing to it")
    p.add_argument("name")
    store(p)
    p = actions.add_parser("name", help="name a speaker of a diarized session (adds its clean speech to the voice)")
    p.add_argument("session")
    p.add_argument("speaker", help="its label, e.g. SPEAKER_01")
    p.add_argument("name")
    store(p)
    p = actions.add_parser("identify", help="recognise enrolled voices in stored sessions, without their audio")
    p.add_argument("session", nargs="*", help="only these session ids (default: every diarized session)")
    store(p)
    v.set_defaults(func=cmd_voices)
