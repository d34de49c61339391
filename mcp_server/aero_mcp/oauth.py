"""aero-mcp as an OAuth 2.1 resource server: JWT access tokens from an identity provider, checked against the
issuer's JWKS.

The SDK decides who may call (its bearer middleware answers 401 with ``WWW-Authenticate`` naming the Protected
Resource Metadata, RFC 9728, which it also serves from :class:`AuthSettings`); this module only says which tokens
are valid: signature against a key of the issuer's JWKS (fetched with PyJWT's :class:`PyJWKClient`, fetched again
when a token names a key id not seen yet, so the issuer can rotate keys), asymmetric algorithms only (``none`` and
HMAC are refused), ``exp``/``nbf``/``iss``/``aud``, the scopes, and the tenant claim.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable

import anyio.to_thread
import jwt
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings

from aero_mcp.auth import READ_SCOPE, AuthConfigError
from aero_mcp.callers import TENANT_CLAIM
from aero_mcp.tenants import DEFAULT_TENANT, TENANT_NAME

log = logging.getLogger("aero_mcp")

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
LEEWAY_S = 30  # clock skew allowed on exp and nbf
REFETCH_MIN_S = 10.0  # an unknown key id fetches the JWKS again at most this often
FETCH_TIMEOUT_S = 5.0


class TokenRejected(Exception):
    """Why a token was refused (for the audit log; the client only ever sees 401)."""


@dataclass(frozen=True)
class OAuthOptions:
    """How tokens are checked: the issuer, where its keys are, the audience, and the tenant claim."""

    issuer: str
    jwks_url: str
    audience: str
    tenant_claim: str | None = None
    refetch_min_s: float = REFETCH_MIN_S


def discover(issuer: str, timeout_s: float = FETCH_TIMEOUT_S) -> dict[str, Any]:
    """The issuer's metadata: OpenID Connect discovery, else OAuth authorization server metadata (RFC 8414)."""
    base = issuer.rstrip("/")
    errors = []
    for url in (f"{base}/.well-known/openid-configuration", _rfc8414_url(issuer)):
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - operator's URL
                metadata = json.loads(response.read())
        except (OSError, ValueError) as exc:
            errors.append(f"{url}: {exc}")
            continue
        if metadata.get("issuer") != issuer:
            raise AuthConfigError(f"{url} names the issuer {metadata.get('issuer')!r}, not {issuer!r}")
        if not metadata.get("jwks_uri"):
            raise AuthConfigError(f"{url} has no jwks_uri")
        return metadata
    raise AuthConfigError(f"cannot discover the issuer {issuer}: {'; '.join(errors)}")


def _rfc8414_url(issuer: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{path}"


class KeySet:
    """The issuer's signing keys by key id, fetched with :class:`jwt.PyJWKClient`; a key id not in hand fetches
    the set again (key rotation), at most once every ``refetch_min_s`` so unknown ids cannot flood the issuer."""

    def __init__(self, url: str, refetch_min_s: float = REFETCH_MIN_S) -> None:
        self._client = jwt.PyJWKClient(url, cache_jwk_set=False, cache_keys=False, timeout=FETCH_TIMEOUT_S)
        self.refetch_min_s = refetch_min_s
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched = float("-inf")
        self._lock = threading.Lock()

    def key(self, kid: str | None) -> jwt.PyJWK:
        with self._lock:
            if kid not in self._keys and time.monotonic() - self._fetched >= self.refetch_min_s:
                self._fetch()
            if kid is None and len(self._keys) == 1:
                return next(iter(self._keys.values()))
            if kid not in self._keys:
                raise TokenRejected(f"unknown key id {kid!r}")
            return self._keys[kid]

    def _fetch(self) -> None:
        self._fetched = time.monotonic()
        try:
            keys = self._client.get_signing_keys(refresh=True)
        except jwt.PyJWKClientError as exc:
            raise TokenRejected(f"cannot fetch the issuer's keys: {exc}") from exc
        self._keys = {k.key_id: k for k in keys if k.key_id}
        if len(keys) == 1 and not keys[0].key_id:
            self._keys = {None: keys[0]}  # type: ignore[dict-item]  # a set of one key without an id


class JwtVerifier:
    """A :class:`mcp.server.auth.provider.TokenVerifier` for JWT access tokens (RFC 9068)."""

    def __init__(self, options: OAuthOptions, accept_tenant: Callable[[str], bool] = lambda name: True,
                 on_reject: Callable[[str], None] | None = None) -> None:
        self.options = options
        self.keys = KeySet(options.jwks_url, options.refetch_min_s)
        self.accept_tenant = accept_tenant
        self.on_reject = on_reject

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            return await anyio.to_thread.run_sync(self.check, token)
        except TokenRejected as exc:
            log.info("refused an access token: %s", exc)
            if self.on_reject is not None:
                self.on_reject(str(exc))
            return None

    def check(self, token: str) -> AccessToken:
        """The access token's grants, or :class:`TokenRejected` saying why not."""
        o = self.options
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise TokenRejected(f"not a JWT: {exc}") from exc
        if header.get("alg") not in ALGORITHMS:
            raise TokenRejected(f"algorithm {header.get('alg')!r} is not accepted")
        key = self.keys.key(header.get("kid"))
        try:
            claims = jwt.decode(token, key=key, algorithms=ALGORITHMS, audience=o.audience, issuer=o.issuer,
                                leeway=LEEWAY_S, options={"require": ["exp", "iss", "aud"]})
        except jwt.InvalidTokenError as exc:
            raise TokenRejected(f"{type(exc).__name__}: {exc}") from exc
        tenant = DEFAULT_TENANT
        if o.tenant_claim:
            tenant = claims.get(o.tenant_claim)
            if not isinstance(tenant, str) or not TENANT_NAME.match(tenant):
                raise TokenRejected(f"claim {o.tenant_claim!r} does not name a tenant")
        if not self.accept_tenant(tenant):
            raise TokenRejected(f"tenant {tenant!r} is not served here")
        client = claims.get("client_id") or claims.get("azp") or claims.get("sub")
        return AccessToken(token=token, client_id=str(client),
                           scopes=_scopes(claims), expires_at=int(claims["exp"]), subject=claims.get("sub"),
                           claims={"iss": claims["iss"], TENANT_CLAIM: tenant})


def _scopes(claims: dict[str, Any]) -> list[str]:
    """``scope`` (space-separated, RFC 9068) or ``scp`` (a list, as some providers write it)."""
    scope = claims.get("scope", claims.get("scp", ""))
    if isinstance(scope, str):
        return scope.split()
    return [s for s in scope if isinstance(s, str)] if isinstance(scope, list) else []


def oauth_options(options: OAuthOptions, resource_url: str, accept_tenant: Callable[[str], bool] = lambda n: True,
                  on_reject: Callable[[str], None] | None = None) -> dict[str, Any]:
    """What :func:`aero_mcp.create_server` passes to ``MCPServer``: the SDK's resource-server settings (its
    Protected Resource Metadata names the issuer; every request needs audio:read, and the scope gate of
    :mod:`aero_mcp.http_app` asks audio:write of the tools that change something) and the JWT verifier. The
    verifier checks the audience itself, so the SDK's own resource check stays off."""
    settings = AuthSettings(issuer_url=options.issuer, resource_server_url=resource_url,
                            required_scopes=[READ_SCOPE], validate_token_resource=False)
    return {"auth": settings, "token_verifier": JwtVerifier(options, accept_tenant, on_reject)}
