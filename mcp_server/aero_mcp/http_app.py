"""The streamable HTTP app: the SDK's, with a scope gate per tool behind its bearer check, the Protected Resource
Metadata listing both scopes, and the audit of refused requests around it all.

Scopes: ``audio:read`` lets a token call the read-only tools (and list, read and complete); ``audio:write`` is
needed besides for every other tool (open, ask, extract, close, live, upload). A token without the scope a call
needs is answered 403 with ``WWW-Authenticate: Bearer error="insufficient_scope"`` naming the scopes and the
metadata, as the MCP authorization spec asks, before the call reaches the server.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.server.auth.middleware.bearer_auth import RequireAuthMiddleware
from mcp.server.auth.routes import build_resource_metadata_url, create_protected_resource_routes
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aero_mcp.audit import AuditLog, AuditRefusals, note_tool
from aero_mcp.auth import ALL_SCOPES, READ_SCOPE, WRITE_SCOPE


async def build_http_app(server: MCPServer, path: str, host: str, audit: AuditLog | None = None) -> ASGIApp:
    """``server``'s streamable HTTP app at ``path``, with the gate, the metadata and the audit wired in."""
    app = server.streamable_http_app(streamable_http_path=path, host=host)
    auth = server.settings.auth
    if auth is not None:
        read_only = {t.name for t in await server.list_tools() if t.annotations and t.annotations.read_only_hint}
        metadata_url = str(build_resource_metadata_url(auth.resource_server_url)) if auth.resource_server_url else None
        for route in app.routes:
            if isinstance(route, Route) and route.path == path and isinstance(route.app, RequireAuthMiddleware):
                route.app.app = ScopeGate(route.app.app, read_only, metadata_url)
        if auth.resource_server_url is not None:
            _advertise_scopes(app, auth)
    return AuditRefusals(app, audit) if audit is not None else app


def _advertise_scopes(app: Starlette, auth: Any) -> None:
    """The SDK lists only the scopes every request needs; list both, from the SDK's own metadata routes."""
    fresh = create_protected_resource_routes(resource_url=auth.resource_server_url,
                                             authorization_servers=[auth.issuer_url], scopes_supported=ALL_SCOPES,
                                             resource_name="aero-mcp")
    paths = {r.path for r in fresh}
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) not in paths] + fresh


class ScopeGate:
    """Refuses, with 403 ``insufficient_scope``, a request whose token lacks the scope its call needs."""

    def __init__(self, app: ASGIApp, read_only: set[str], metadata_url: str | None,
                 max_body: int = DEFAULT_MAX_REQUEST_BODY_SIZE) -> None:
        self.app = app
        self.read_only = read_only
        self.metadata_url = metadata_url
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        read: list[Message] = []
        size = 0
        while True:
            message = await receive()
            read.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if not message.get("more_body") or size > self.max_body:
                break
        body = b"".join(m.get("body", b"") for m in read if m["type"] == "http.request")
        tool, needed = self._needs(body) if size <= self.max_body else (None, [READ_SCOPE])
        granted = set(getattr(scope.get("user"), "scopes", None) or ())
        missing = [s for s in needed if s not in granted]
        if missing:
            note_tool(tool, f"missing scope {' '.join(missing)}")
            await self._refuse(send, needed, missing, tool)
            return

        async def replay() -> Message:
            return read.pop(0) if read else await receive()

        await self.app(scope, replay, send)

    def _needs(self, body: bytes) -> tuple[str | None, list[str]]:
        """The tool a JSON-RPC body calls (if any) and the scopes it needs."""
        try:
            messages = json.loads(body) if body else []
        except ValueError:
            return None, [READ_SCOPE]  # the SDK answers the parse error
        tool, needed = None, [READ_SCOPE]
        for message in messages if isinstance(messages, list) else [messages]:
            params = message.get("params") if isinstance(message, dict) else None
            if isinstance(message, dict) and message.get("method") == "tools/call" and isinstance(params, dict):
                tool = params.get("name") if isinstance(params.get("name"), str) else None
                if tool not in self.read_only:
                    needed = [READ_SCOPE, WRITE_SCOPE]
        return tool, needed

    async def _refuse(self, send: Send, needed: list[str], missing: list[str], tool: str | None) -> None:
        what = f"calling {tool}" if tool else "this request"
        description = f"{what} needs the scope {' '.join(missing)}"
        parts = ['error="insufficient_scope"', f'scope="{" ".join(needed)}"',
                 f'error_description="{description}"']
        if self.metadata_url:
            parts.append(f'resource_metadata="{self.metadata_url}"')
        body = json.dumps({"error": "insufficient_scope", "error_description": description}).encode()
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"www-authenticate", f"Bearer {', '.join(parts)}".encode())]})
        await send({"type": "http.response.body", "body": body})
