"""``completion/complete`` for prompt and resource-template arguments: session ids (the caller's tenant's), file
names under the allowed folders, speaker labels of the session named alongside, and a few fixed choices.

Registered on the SDK's low-level server rather than with ``MCPServer.completion()``, whose handlers do not see the
request (and so could not tell which tenant asks)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.types import CompleteRequestParams, CompleteResult, Completion

from aero_agent.audio import AUDIO_EXTENSIONS

log = logging.getLogger("aero_mcp")

MAX_VALUES = 100  # the spec's cap on values in one answer
MAX_SCANNED = 5000  # folder entries looked at per request
MAX_DEPTH = 4
CHOICES = {"format": ["srt", "vtt"]}
SESSION_ARGS = {"session_id"}
AUDIO_ARGS = {"audio", "path"}  # prompts take a session id or a file path


async def complete(state: Any, params: CompleteRequestParams) -> Completion:
    """The completions of ``params.argument`` for the caller's tenant ``state``."""
    name, value = params.argument.name, params.argument.value or ""
    if name in CHOICES:
        return _answer([c for c in CHOICES[name] if c.startswith(value.lower())])
    backend = state.backend
    if name in SESSION_ARGS | AUDIO_ARGS:
        store = await backend.store()
        infos = await backend.run(store.list, what="listing sessions")
        values = [i.id for i in infos if i.id.startswith(value)]
        if name in AUDIO_ARGS:
            values += await backend.run(audio_files, state.roots, value, what="listing files")
        return _answer(values)
    if name == "speaker":
        arguments = (params.context.arguments if params.context else None) or {}
        session_id = arguments.get("session_id") or arguments.get("audio")
        if not session_id:
            return _answer([])
        store = await backend.store()
        try:
            session = await backend.run(store.get, session_id, what="loading the session")
            transcript = await backend.run(session.transcribe, what="reading the transcript")
        except Exception as exc:  # noqa: BLE001 - an unknown session completes to nothing
            log.debug("no speaker completions for %r: %s", session_id, exc)
            return _answer([])
        return _answer([s.speaker for s in transcript.speakers() if s.speaker.startswith(value)])
    return _answer([])


def audio_files(roots: list[Path], prefix: str) -> list[str]:
    """Audio files under ``roots`` whose path (relative to the first root, else absolute) or name starts with
    ``prefix``, shallow folders first; bounded in how much is scanned."""
    found: list[str] = []
    scanned = 0
    for i, root in enumerate(roots):
        queue = [(root, 0)]
        while queue and scanned < MAX_SCANNED and len(found) < MAX_VALUES:
            folder, depth = queue.pop(0)
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            for entry in entries:
                scanned += 1
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False) and depth < MAX_DEPTH:
                    queue.append((Path(entry.path), depth + 1))
                elif entry.is_file() and Path(entry.name).suffix.lower() in AUDIO_EXTENSIONS:
                    path = Path(entry.path)
                    shown = str(path.relative_to(root)) if i == 0 else str(path)
                    if shown.startswith(prefix) or entry.name.startswith(prefix):
                        found.append(shown)
    return found


def _answer(values: list[str]) -> Completion:
    unique = list(dict.fromkeys(values))
    return Completion(values=unique[:MAX_VALUES], total=len(unique), has_more=len(unique) > MAX_VALUES)


def install(server: MCPServer) -> None:
    """Answer ``completion/complete`` on ``server`` (which also advertises the completions capability)."""
    async def handler(ctx: Any, params: CompleteRequestParams) -> CompleteResult:
        state = await ctx.lifespan_context.for_caller(ctx)
        return CompleteResult(completion=await complete(state, params))

    server._lowlevel_server.add_request_handler("completion/complete", CompleteRequestParams, handler)
