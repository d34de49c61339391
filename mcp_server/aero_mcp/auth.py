"""Bearer-token authentication for streamable HTTP, through the MCP SDK's own ``TokenVerifier`` and
``AuthSettings``: the SDK's middleware answers a request without a valid ``Authorization: Bearer`` header
with 401 and a ``WWW-Authenticate`` header; this module only says which tokens are valid.

Tokens come from a file (one a line; blank lines and ``#`` comments are skipped) or from the environment
variable ``AERO_MCP_AUTH_TOKEN``. They are compared in constant time. A line ``tenant:token`` gives the token to a
tenant (see :mod:`aero_mcp.tenants`); a line holding only a token belongs to the default tenant. A static token
carries every scope.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings

log = logging.getLogger("aero_mcp")

TOKEN_ENV = "AERO_MCP_AUTH_TOKEN"
MIN_TOKEN_CHARS = 16
CLIENT_ID = "aero-mcp-token"
READ_SCOPE, WRITE_SCOPE = "audio:read", "audio:write"
ALL_SCOPES = [READ_SCOPE, WRITE_SCOPE]
_TENANT_PREFIX = re.compile(r"^([A-Za-z0-9_-]{1,64}):(.+)$")


class TenantToken(NamedTuple):
    """A static token and the tenant it belongs to."""

    tenant: str
    token: str


def parse_token_line(line: str) -> TenantToken:
    """``tenant:token`` or a bare token (the default tenant)."""
    from aero_mcp.tenants import DEFAULT_TENANT

    found = _TENANT_PREFIX.match(line)
    return TenantToken(found[1], found[2].strip()) if found else TenantToken(DEFAULT_TENANT, line)


class AuthConfigError(ValueError):
    """The tokens given cannot be used (missing file, no token, a token too short to be a secret)."""


class StaticTokenVerifier:
    """A :class:`mcp.server.auth.provider.TokenVerifier` that accepts a fixed set of tokens.

    Each check compares the SHA-256 digest of the token offered with that of every known token using
    :func:`hmac.compare_digest`, so neither the position of the first differing character nor which token
    matched shows in the time it takes. An accepted token's claims name its tenant; its subject is
    ``<tenant>/token<n>`` (its place among the tenant's tokens), which the audit log shows instead of the token.
    """

    def __init__(self, tokens: Iterable[str | TenantToken]) -> None:
        from aero_mcp.callers import TENANT_CLAIM

        entries = [t if isinstance(t, TenantToken) else parse_token_line(t) for t in tokens]
        if not entries:
            raise AuthConfigError("no bearer token given")
        counts: dict[str, int] = {}
        self._known = []
        for tenant, token in entries:
            counts[tenant] = counts.get(tenant, 0) + 1
            self._known.append((_digest(token), {TENANT_CLAIM: tenant}, f"{tenant}/token{counts[tenant]}"))

    async def verify_token(self, token: str) -> AccessToken | None:
        offered = _digest(token)
        found = None
        for digest, claims, subject in self._known:  # no early exit: every token is compared
            if hmac.compare_digest(offered, digest):
                found = (claims, subject)
        if found is None:
            return None
        return AccessToken(token=token, client_id=CLIENT_ID, scopes=list(ALL_SCOPES), subject=found[1],
                           claims=dict(found[0]))


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def load_tokens(token_file: Path | None = None, environ: dict[str, str] | None = None) -> list[str]:
    """The tokens from ``token_file``, else from ``$AERO_MCP_AUTH_TOKEN``; ``[]`` when neither is set."""
    return [entry.token for entry in load_token_entries(token_file, environ)]


def load_token_entries(token_file: Path | None = None,
                       environ: dict[str, str] | None = None) -> list[TenantToken]:
    """The tokens of ``token_file`` with their tenants, else ``$AERO_MCP_AUTH_TOKEN`` (the default tenant)."""
    from aero_mcp.tenants import DEFAULT_TENANT

    environ = os.environ if environ is None else environ
    if token_file is not None:
        path = Path(token_file).expanduser()
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise AuthConfigError(f"cannot read the token file {path}: {exc.strerror or exc}") from exc
        if os.name == "posix" and path.stat().st_mode & 0o077:
            log.warning("the token file %s can be read by other users; chmod 600 it", path)
        entries = [parse_token_line(line.strip()) for line in text.splitlines()
                   if line.strip() and not line.lstrip().startswith("#")]
        if not entries:
            raise AuthConfigError(f"the token file {path} holds no token")
        where = str(path)
    elif environ.get(TOKEN_ENV, "").strip():
        entries, where = [TenantToken(DEFAULT_TENANT, environ[TOKEN_ENV].strip())], f"${TOKEN_ENV}"
    else:
        return []
    short = [i + 1 for i, e in enumerate(entries) if len(e.token) < MIN_TOKEN_CHARS]
    if short:
        raise AuthConfigError(f"token {', '.join(map(str, short))} in {where} is shorter than {MIN_TOKEN_CHARS} "
                              "characters; use a long random secret (for example `openssl rand -hex 32`)")
    if len({e.token for e in entries}) < len(entries):
        raise AuthConfigError(f"a token appears twice in {where}; each token must belong to one tenant")
    return entries


def auth_options(tokens: Iterable[str | TenantToken], url: str) -> dict[str, Any]:
    """What :func:`aero_mcp.create_server` passes to ``MCPServer`` to require one of ``tokens`` on every HTTP
    request. ``url`` is the server's own address; the SDK's settings need an issuer, and a static-token
    server is its own."""
    return {"auth": AuthSettings(issuer_url=url, resource_server_url=None),
            "token_verifier": StaticTokenVerifier(tokens)}
