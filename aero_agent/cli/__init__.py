"""The ``aero-agent`` command: :mod:`.parser` (options, entry point), :mod:`.commands` (what each command does),
:mod:`.chat` (the interactive session) and :mod:`.listen` (live audio from a stream or the microphone)."""

from aero_agent.cli.parser import ENGINE_NAMES, build_parser, main

__all__ = ["main", "build_parser", "ENGINE_NAMES"]
