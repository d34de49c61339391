"""Resources: the session list, one session's status, its transcript in four formats, and its history."""

# No ``from __future__ import annotations``: the SDK reads these signatures at registration time.

import json
import logging
from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from aero_agent import errors as E
from aero_agent.session import AudioSession
from aero_mcp.registry import AppState, app_state, resource
from aero_mcp.backend import explain, is_expected
from aero_mcp.models import SessionStatus
from aero_mcp.tools_sessions import session_list

log = logging.getLogger("aero_mcp")

TRANSCRIPT_FORMATS = {  # format: (uri suffix, mime type, what it is)
    "text": ("", "text/plain", "plain text"),
    "srt": (".srt", "application/x-subrip", "SubRip subtitles"),
    "vtt": (".vtt", "text/vtt", "WebVTT subtitles"),
    "json": (".json", "application/json", "JSON segments"),
}


async def read_session(ctx: Context, session_id: str, read: Callable[[AudioSession], str]) -> str:
    """``read`` applied to a session, with a missing session as 'not found' and other failures explained."""
    app = await app_state(ctx)
    try:
        store = await app.backend.store()
        session = await app.backend.run(store.get, session_id, what="loading the session")
        return await app.backend.run(read, session, what="reading the session")
    except E.SessionNotFoundError as exc:
        raise ResourceNotFoundError(explain(exc, app.roots)) from exc
    except Exception as exc:
        if not is_expected(exc):
            log.exception("reading a resource of %s failed", session_id)
        raise ResourceError(explain(exc, app.roots)) from exc


@resource("audio://sessions", needs_state=True, name="sessions", title="Audio sessions",
          mime_type="application/json", description="Every audio session with its status, newest first.")
async def sessions_resource(app: AppState) -> str:
    try:
        return (await session_list(app))[1].model_dump_json(indent=1)
    except Exception as exc:
        raise ResourceError(explain(exc, app.roots)) from exc


@resource("audio://sessions/{session_id}", name="session", mime_type="application/json",
          description="Status of one session.")
async def session_resource(session_id: str, ctx: Context) -> str:
    return await read_session(ctx, session_id, lambda s: SessionStatus.from_info(s.info).model_dump_json(indent=1))


@resource("audio://sessions/{session_id}/history", name="history", mime_type="application/json",
          description="The session's conversation: every question, extraction and answer.")
async def history_resource(session_id: str, ctx: Context) -> str:
    return await read_session(ctx, session_id, lambda s: json.dumps([t.model_dump(mode="json") for t in s.history],
                                                                    ensure_ascii=False, indent=1))


def _transcript_reader(fmt: str) -> Callable[..., Any]:
    async def read(session_id: str, ctx: Context) -> str:
        return await read_session(ctx, session_id, lambda s: s.transcribe().render(fmt))

    read.__name__ = f"transcript_{fmt}"
    return read


for _fmt, (_suffix, _mime, _what) in TRANSCRIPT_FORMATS.items():
    resource(f"audio://sessions/{{session_id}}/transcript{_suffix}", name=f"transcript{_suffix or '.txt'}",
             title=f"Transcript ({_what})", mime_type=_mime,
             description=f"The session's transcript as {_what}; partial while the session is encoding.",
             )(_transcript_reader(_fmt))
