"""An in-process MCP client for the tests: the server package importable from a bare checkout, and one helper that
runs a client script against a server and closes the server's backend afterwards."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

REPO = Path(__file__).resolve().parent.parent
try:  # installed by the project's pyproject; from a bare checkout, use the source folder
    import aero_mcp  # noqa: F401
except ImportError:
    sys.path.insert(0, str(REPO / "mcp_server"))


async def connect(server: Any, script: Callable[[Client], Awaitable[Any]]) -> Any:
    """Run ``script`` against ``server`` through an in-process MCP client, in the caller's event loop."""
    async with Client(server) as client:
        return await script(client)


def drive(server: Any, script: Callable[[Client], Awaitable[Any]], close: bool = True) -> Any:
    """Run ``script`` against ``server`` through an in-process MCP client; then close the server's backend,
    unless ``close`` is False (for a test that closes it itself and checks how)."""
    try:
        return anyio.run(connect, server, script)
    finally:
        if close:
            server.backend.close(grace_s=60)
