"""The MCP server: the tools, resources and prompts of :mod:`aero_mcp`'s modules on one ``MCPServer``.

Every tool is a thin mapping onto :class:`aero_agent.SessionStore` / :class:`aero_agent.AudioSession`, written at
module level in the module of its concern (:mod:`aero_mcp.tools_sessions`, :mod:`aero_mcp.tools_transcripts`,
:mod:`aero_mcp.resources`, :mod:`aero_mcp.prompts`); :mod:`aero_mcp.registry` holds what they share, and
:mod:`aero_mcp.backend` the worker threads, time limits and error messages around the core.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer

# importing a module declares its tools, resources and prompts
from aero_mcp import (prompts, resources, tools_library, tools_live, tools_sessions, tools_transcripts,  # noqa: F401
                      tools_uploads, tools_vocabulary, tools_voices)
from aero_mcp import completions
from aero_mcp.audit import AuditLog, AuditToolCalls
from aero_mcp.registry import AppState, register_all
from aero_mcp.backend import Backend, UserError
from aero_mcp.callers import Tenancy
from aero_mcp.config import ServerConfig
from aero_mcp.prompt_checks import PromptArguments
from aero_mcp.tenants import Tenants


def _instructions(config: ServerConfig) -> str:
    folders = ", ".join(str(d) for d in config.allow_dirs)
    return (
        "aero-mcp gives you ears: open an audio recording once with open_audio (a file path inside the allowed "
        f"folders: {folders}), then transcribe, ask about, search and extract from it over many turns using the "
        "session_id it returns. Long recordings encode in the background: open_audio returns at once with status "
        f"'encoding'; call session_status with wait_s (up to {config.max_wait_s:g} s) until it is 'ready'. "
        "transcribe_audio, search_audio and ask_audio already work on the part encoded so far and say how far "
        "encoding is. Sessions persist across restarts: list_audio_sessions shows them. Transcripts are also "
        "resources: audio://sessions/{id}/transcript (and .srt, .vtt, .json)."
    )


def create_server(config: ServerConfig | None = None, *, backend: Backend | None = None, engine: Any = None,
                  reasoner: Any = None, tenants: Tenants | None = None, audit: AuditLog | None = None,
                  **server_options: Any) -> MCPServer:
    """Build the aero-mcp server.

    Give ``engine`` (an already loaded aero-agent engine) to open the store at once, as tests do; otherwise the
    engine named in ``config`` loads in a background thread when the server starts. ``tenants`` (default: the
    one tenant ``config`` describes) gives each caller's tenant its own store; ``audit`` records every tool call.
    ``server_options`` go to ``MCPServer`` (``auth`` and ``token_verifier`` for HTTP authentication).
    """
    from aero_mcp import __version__

    tenants = tenants or Tenants(config or ServerConfig())
    config = tenants.default.config
    state = AppState(backend or Backend(config, engine=engine, reasoner=reasoner), config, tenant=tenants.default)
    if tenants.multi:
        state = AppState(state.backend, config, tenant=tenants.default, tenancy=Tenancy(tenants, state))

    @asynccontextmanager
    async def lifespan(_server: MCPServer) -> AsyncIterator[AppState]:
        state.backend.start()
        yield state

    server = MCPServer("aero-mcp", title="aero-mcp: audio sessions for agents", version=__version__,
                       instructions=_instructions(config), lifespan=lifespan, **server_options)
    server.backend = state.backend  # type: ignore[attr-defined]  # for the CLI and tests
    server.tenancy = state.tenancy  # type: ignore[attr-defined]
    server.audit = audit  # type: ignore[attr-defined]  # the HTTP app audits refused requests too
    register_all(server, state)
    completions.install(server)
    server.middleware.append(PromptArguments(server))
    if audit is not None:
        server.middleware.append(AuditToolCalls(audit))
    return server


__all__ = ["UserError", "create_server"]
