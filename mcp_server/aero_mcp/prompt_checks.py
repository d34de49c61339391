"""``prompts/get`` for an unknown prompt or without a required argument answered with the spec's -32602 (invalid
params): the SDK raises a plain ``ValueError`` there, which reaches the client as error code 0."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS


class PromptArguments:
    """A context-tier middleware of the SDK that checks a ``prompts/get`` against the prompts listed."""

    def __init__(self, server: MCPServer) -> None:
        self.server = server
        self._required: dict[str, set[str]] | None = None

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        if ctx.method == "prompts/get":
            await self.check(ctx.params or {})
        return await call_next(ctx)

    async def check(self, params: dict[str, Any]) -> None:
        if self._required is None:
            self._required = {p.name: {a.name for a in p.arguments or () if a.required}
                              for p in await self.server.list_prompts()}
        name = params.get("name")
        if name not in self._required:
            raise MCPError(INVALID_PARAMS, f"Unknown prompt: {name!r}; prompts/list names the prompts")
        given = params.get("arguments") or {}
        missing = sorted(a for a in self._required[name] if not isinstance(given, dict) or a not in given)
        if missing:
            raise MCPError(INVALID_PARAMS, f"Missing required argument(s) of prompt {name}: {', '.join(missing)}")
