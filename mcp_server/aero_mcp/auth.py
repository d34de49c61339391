"""Bearer-token authentication for streamable HTTP, through the MCP SDK's own ``TokenVerifier`` and
``AuthSettings``: the SDK's middleware answers a request without a valid ``Authorization: Bearer`` header
with 401 and a ``WWW-Authenticate`` header; this module only says which tokens are valid.

Tokens come from a file (one a line; blank lines and ``#`` comments are skipped) or from the environment
variable ``AERO_MCP_AUTH_TOKEN``. They are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings

log = logging.getLogger("aero_mcp")

TOKEN_ENV = "AERO_MCP_AUTH_TOKEN"
MIN_TOKEN_CHARS = 16
CLIENT_ID = "aero-mcp-token"


class AuthConfigError(ValueError):
    """The tokens given cannot be used (missing file, no token, a token too short to be a secret)."""


class StaticTokenVerifier:
    """A :class:`mcp.server.auth.provider.TokenVerifier` that accepts a fixed set of tokens.

    Each check compares the SHA-256 digest of the token offered with that of every known token using
    :func:`hmac.compare_digest`, so neither the position of the first differing character nor which token
    matched shows in the time it takes.
    """

    def __init__(self, tokens: Iterable[str]) -> None:
        self._digests = [_digest(t) for t in tokens]
        if not self._digests:
            raise AuthConfigError("no bearer token given")

    async def verify_token(self, token: str) -> AccessToken | None:
        offered = _digest(token)
        matched = False
        for known in self._digests:  # no early exit: every token is compared
            matched |= hmac.compare_digest(offered, known)
        return AccessToken(token=token, client_id=CLIENT_ID, scopes=[]) if matched else None


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def load_tokens(token_file: Path | None = None, environ: dict[str, str] | None = None) -> list[str]:
    """The tokens from ``token_file``, else from ``$AERO_MCP_AUTH_TOKEN``; ``[]`` when neither is set."""
    environ = os.environ if environ is None else environ
    if token_file is not None:
        path = Path(token_file).expanduser()
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise AuthConfigError(f"cannot read the token file {path}: {exc.strerror or exc}") from exc
        if os.name == "posix" and path.stat().st_mode & 0o077:
            log.warning("the token file %s can be read by other users; chmod 600 it", path)
        tokens = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        if not tokens:
            raise AuthConfigError(f"the token file {path} holds no token")
        where = str(path)
    elif environ.get(TOKEN_ENV, "").strip():
        tokens, where = [environ[TOKEN_ENV].strip()], f"${TOKEN_ENV}"
    else:
        return []
    short = [i + 1 for i, t in enumerate(tokens) if len(t) < MIN_TOKEN_CHARS]
    if short:
        raise AuthConfigError(f"token {', '.join(map(str, short))} in {where} is shorter than {MIN_TOKEN_CHARS} "
                              "characters; use a long random secret (for example `openssl rand -hex 32`)")
    return tokens


def auth_options(tokens: Iterable[str], url: str) -> dict[str, Any]:
    """What :func:`aero_mcp.create_server` passes to ``MCPServer`` to require one of ``tokens`` on every HTTP
    request. ``url`` is the server's own address; the SDK's settings need an issuer, and a static-token
    server is its own."""
    return {"auth": AuthSettings(issuer_url=url, resource_server_url=None), "token_verifier": StaticTokenVerifier(tokens)}
