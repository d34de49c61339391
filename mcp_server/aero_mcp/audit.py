"""The audit log: one JSON line per tool call and per refused request (time, tenant, principal, tool, session id,
outcome, duration). It never holds transcript text, audio, arguments beyond the session id, or tokens.

Tool calls are recorded by a context-tier middleware of the SDK (it sees every ``tools/call`` with the caller's
access token); refused HTTP requests (401, 403) by an ASGI wrapper around the HTTP app, which the token verifiers
tell why they refused a token.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mcp.shared.exceptions import MCPError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aero_mcp.callers import caller_token, principal_of, tenant_of

log = logging.getLogger("aero_mcp")

_ERROR_KIND = re.compile(r"^(?:Error executing tool \S+: )?([A-Za-z]{2,40}):")  # the error's class name
_SESSION_TOOLS_RESULT = "session_id"
_refusal: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("aero_refusal", default=None)


class AuditLog:
    """Appends JSON lines to ``path`` (created mode 600), one ``write`` at a time."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._file = os.fdopen(fd, "a", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()

    def write(self, event: str, **fields: Any) -> None:
        record = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "event": event, **fields}
        line = json.dumps(record, ensure_ascii=False, default=str)
        with self._lock:
            try:
                self._file.write(line + "\n")
            except (OSError, ValueError) as exc:  # a full disk must not stop the server
                log.error("could not write the audit log %s: %s", self.path, exc)

    def close(self) -> None:
        with self._lock:
            self._file.close()


def note_refusal(reason: str) -> None:
    """A token verifier's reason for refusing a token, for the audit line of the request's 401."""
    holder = _refusal.get()
    if holder is not None:
        holder["reason"] = reason


class AuditToolCalls:
    """A context-tier middleware of the SDK (``MCPServer.middleware``): one audit line per ``tools/call``."""

    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        token = caller_token(ctx)
        params = ctx.params or {}
        arguments = params.get("arguments") if isinstance(params.get("arguments"), dict) else {}
        session_id = arguments.get("session_id")
        fields: dict[str, Any] = {"tenant": tenant_of(token), "principal": principal_of(token),
                                  "tool": params.get("name") if isinstance(params.get("name"), str) else None}
        t0 = time.perf_counter()
        outcome, error = "ok", None
        try:
            result = await call_next(ctx)
        except MCPError as exc:
            outcome, error = "refused", f"code {exc.error.code}"
            raise
        except Exception as exc:
            outcome, error = "refused", type(exc).__name__
            raise
        else:
            if _get(result, "is_error", "isError"):
                outcome, error = "error", _error_kind(result)
            structured = _get(result, "structured_content", "structuredContent")
            if isinstance(structured, dict) and isinstance(structured.get(_SESSION_TOOLS_RESULT), str):
                session_id = structured[_SESSION_TOOLS_RESULT]
            return result
        finally:
            self.audit.write("tool_call", **fields,
                             session_id=session_id if isinstance(session_id, str) else None, outcome=outcome,
                             error=error, duration_ms=round((time.perf_counter() - t0) * 1000, 1))


def _get(result: Any, attribute: str, key: str) -> Any:
    return result.get(key) if isinstance(result, dict) else getattr(result, attribute, None)


def _error_kind(result: Any) -> str | None:
    """The error's kind (``SessionNotFound``...), from the leading word of its text: never the text itself."""
    content = _get(result, "content", "content") or []
    first = content[0] if content else None
    text = first.get("text") if isinstance(first, dict) else getattr(first, "text", None)
    found = _ERROR_KIND.match(text or "")
    return found[1] if found else None


class AuditRefusals:
    """An ASGI wrapper around the HTTP app: one audit line per response with status 401 or 403."""

    def __init__(self, app: ASGIApp, audit: AuditLog) -> None:
        self.app = app
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        holder: dict[str, str] = {}
        reset = _refusal.set(holder)
        t0 = time.perf_counter()
        status = {"code": 0}

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            _refusal.reset(reset)
            if status["code"] in (401, 403):
                user = scope.get("user")
                token = getattr(user, "access_token", None)
                self.audit.write("auth_failure", tenant=tenant_of(token) if token else None,
                                 principal=principal_of(token), tool=holder.get("tool"), session_id=None,
                                 outcome=str(status["code"]),
                                 error=holder.get("reason") or _default_reason(scope, status["code"]),
                                 method=scope.get("method"), path=scope.get("path"),
                                 duration_ms=round((time.perf_counter() - t0) * 1000, 1))


def _default_reason(scope: Scope, status: int) -> str:
    """Why a request was refused when no verifier or gate said: the SDK's own checks."""
    if status == 403:
        return "missing scope audio:read"  # the SDK's required scope
    return "token not accepted" if _has_bearer(scope) else "no bearer token"


def _has_bearer(scope: Scope) -> bool:
    return any(k.lower() == b"authorization" and v[:7].lower() == b"bearer " for k, v in scope.get("headers", []))


def note_tool(tool: str | None, reason: str) -> None:
    """What the scope gate refused (the tool and the scope missing), for the request's audit line."""
    holder = _refusal.get()
    if holder is not None:
        holder["reason"] = reason
        if tool:
            holder["tool"] = tool
