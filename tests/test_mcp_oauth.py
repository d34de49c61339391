"""aero-mcp as an OAuth 2.1 resource server: real JWTs signed with keys the tests generate, the issuer's discovery
document and JWKS served on 127.0.0.1, and a real server process.

The verifier is checked in-process against every kind of bad token (and key rotation); the server process then
refuses each bad token with 401 (naming its Protected Resource Metadata, which it serves), a token without the
scope a tool needs with 403, keeps serving good tokens throughout, and writes an audit line per refusal and per
tool call without any token in it. The server runs ``--engine aero`` without a model (no model loads; a tool that
is reached answers EngineUnavailable), as in test_mcp_auth.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mcp_process import http_server

from aero_mcp.auth import AuthConfigError  # noqa: E402
from aero_mcp.oauth import JwtVerifier, OAuthOptions, TokenRejected, discover  # noqa: E402

AUDIENCE = "https://aero.example/mcp"
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "raw-http", "version": "0"}}}


class Issuer:
    """A minimal identity provider on 127.0.0.1: OpenID discovery and a JWKS whose keys can be rotated; it signs
    tokens with its current key."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {"k1": rsa.generate_private_key(public_exponent=65537, key_size=2048)}
        self.current = "k1"
        self.jwks_hits = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks.json"}
                elif self.path == "/jwks.json":
                    issuer.jwks_hits += 1
                    body = {"keys": [issuer.jwk(kid) for kid in issuer.keys]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def jwk(self, kid: str) -> dict[str, Any]:
        key = self.keys[kid]
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return {**jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid, "alg": "ES256"}
        return {**jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid, "alg": "RS256"}

    def rotate(self, kid: str, curve: bool = False) -> None:
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1()) if curve else \
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.current = kid

    def token(self, *, scope: str = "audio:read audio:write", tenant: str | None = "acme", kid: str | None = None,
              key: Any = None, alg: str | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.url, "aud": AUDIENCE, "sub": "user-1", "client_id": "agent-1", "iat": now,
                "exp": now + 300, "scope": scope, **claims}
        if tenant is not None:
            body["tenant"] = tenant
        body = {k: v for k, v in body.items() if v is not None}
        kid = kid or self.current
        signing = key or self.keys.get(kid) or self.keys[self.current]
        alg = alg or ("ES256" if isinstance(signing, ec.EllipticCurvePrivateKey) else "RS256")
        return jwt.encode(body, signing, algorithm=alg, headers={"kid": kid})

    def close(self) -> None:
        self.http.shutdown()


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())


def _claims(issuer: Issuer) -> dict[str, Any]:
    return {"iss": issuer.url, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 300,
            "scope": "audio:read audio:write", "tenant": "acme"}


def _none_token(issuer: Issuer) -> str:
    """A token with ``alg: none`` (no signature), which PyJWT will not write for us."""
    return _unsigned({"alg": "none", "typ": "JWT", "kid": "k1"}, _claims(issuer)) + "."


def _hs256_with_public_key(issuer: Issuer) -> str:
    """The algorithm-confusion attack: HS256 'signed' with the issuer's public key as the shared secret."""
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import serialization

    secret = issuer.keys["k1"].public_key().public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    unsigned = _unsigned({"alg": "HS256", "typ": "JWT", "kid": "k1"}, _claims(issuer))
    return unsigned + "." + _b64(hmac.new(secret, unsigned.encode(), hashlib.sha256).digest())


def bad_tokens(issuer: Issuer) -> dict[str, str]:
    """Every kind of token a resource server must refuse, by what is wrong with it."""
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    return {
        "expired": issuer.token(exp=now - 120, iat=now - 600),
        "not yet valid": issuer.token(nbf=now + 600),
        "wrong audience": issuer.token(aud="https://other.example/mcp"),
        "wrong issuer": issuer.token(iss="https://evil.example"),
        "bad signature": issuer.token(key=other, kid="k1"),
        "alg none": _none_token(issuer),
        "HS256 with the public key as secret": _hs256_with_public_key(issuer),
        "unknown key id": issuer.token(kid="k-unknown", key=other),
        "no exp": issuer.token(exp=None),
        "no tenant claim": issuer.token(tenant=None),
        "tenant not served": issuer.token(tenant="initech"),
        "tampered payload": _tamper(issuer.token(scope="audio:read")),
        "not a jwt": "not-a-jwt-at-all-0123456789",
    }


def _tamper(token: str) -> str:
    """A read-only token whose payload was changed to grant writing, its signature kept."""
    import base64

    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["scope"] = "audio:read audio:write"
    return f"{head}.{_b64(json.dumps(claims).encode())}.{sig}"


@pytest.fixture(scope="module")
def issuer():
    served = Issuer()
    yield served
    served.close()


def _verifier(issuer: Issuer, refetch_min_s: float = 0.0) -> JwtVerifier:
    return JwtVerifier(OAuthOptions(issuer=issuer.url, jwks_url=f"{issuer.url}/jwks.json", audience=AUDIENCE,
                                    tenant_claim="tenant", refetch_min_s=refetch_min_s),
                       accept_tenant=lambda name: name in ("acme", "globex"))


def test_the_verifier_accepts_good_tokens_and_refuses_every_bad_one(issuer):
    """Catches: a signature, algorithm, time, issuer, audience or tenant check missing from the verifier."""
    verifier = _verifier(issuer)
    good = verifier.check(issuer.token(scope="audio:read"))
    assert good.scopes == ["audio:read"] and good.subject == "user-1" and good.client_id == "agent-1"
    assert good.claims == {"iss": issuer.url, "aero_tenant": "acme"} and good.expires_at > time.time()
    listed = verifier.check(issuer.token(scope=None, scp=["audio:read", "audio:write"], tenant="globex"))
    assert listed.scopes == ["audio:read", "audio:write"] and listed.claims["aero_tenant"] == "globex"
    for what, token in bad_tokens(issuer).items():
        with pytest.raises(TokenRejected):
            verifier.check(token)
            pytest.fail(f"accepted a token with {what}")
    assert anyio.run(verifier.verify_token, bad_tokens(issuer)["expired"]) is None  # the SDK sees None


def test_keys_rotate_and_unknown_key_ids_do_not_flood_the_issuer(issuer):
    """Catches: a key cache that never refreshes (rotation breaks every client), and one that fetches the JWKS
    for every unknown key id (anyone could make the server hammer the issuer)."""
    verifier = _verifier(issuer, refetch_min_s=0.0)
    assert verifier.check(issuer.token()).subject == "user-1"
    issuer.rotate("k2", curve=True)  # the issuer moves to an EC key
    try:
        assert verifier.check(issuer.token()).subject == "user-1"  # fetched again for the new kid
        throttled = _verifier(issuer, refetch_min_s=60.0)
        throttled.check(issuer.token())
        hits = issuer.jwks_hits
        for _ in range(5):
            with pytest.raises(TokenRejected, match="unknown key id"):
                throttled.check(issuer.token(kid="k-unknown", key=issuer.keys["k2"]))
        assert issuer.jwks_hits == hits
    finally:
        del issuer.keys["k2"]
        issuer.current = "k1"


def test_discovery_checks_the_issuer(issuer):
    assert discover(issuer.url)["jwks_uri"] == f"{issuer.url}/jwks.json"
    with pytest.raises(AuthConfigError, match="names the issuer"):
        discover(issuer.url + "/")  # the document names another issuer string
    with pytest.raises(AuthConfigError, match="cannot discover"):
        discover("http://127.0.0.1:9/nothing")


# ----- the server process ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def oauth_server(issuer, tmp_path_factory):
    root = tmp_path_factory.mktemp("mcp-oauth")
    (root / "audio").mkdir()
    (root / "tenants.toml").write_text('[tenants.acme]\n\n[tenants.globex]\nmax_sessions = 3\n')
    with http_server(root, "--allow-dir", str(root / "audio"), "--store", str(root / "store"), "--engine", "aero",
                     "--oauth-issuer", issuer.url, "--oauth-audience", AUDIENCE, "--oauth-tenant-claim", "tenant",
                     "--tenants", str(root / "tenants.toml"), "--audit-log", str(root / "audit.jsonl")) as server:
        yield {**server, "root": root}


def _post(url: str, token: str | None, body: dict[str, Any] = INITIALIZE) -> httpx.Response:
    headers = dict(HEADERS)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(url, json=body, headers=headers, timeout=30)


def _call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": name, "arguments": arguments}}


def test_bad_tokens_get_401_naming_the_metadata_and_the_server_keeps_serving(oauth_server, issuer):
    """Catches: any bad token let through, a 401 without the metadata's address, metadata that is not served
    or lists the wrong issuer or scopes, and a server that stops answering good tokens after bad ones."""
    url, port = oauth_server["url"], oauth_server["port"]
    metadata_url = f"http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp"
    missing = _post(url, None)
    assert missing.status_code == 401
    assert f'resource_metadata="{metadata_url}"' in missing.headers["www-authenticate"]
    metadata = httpx.get(metadata_url, timeout=10).json()
    assert metadata["resource"] == url and metadata["authorization_servers"] == [issuer.url]
    assert set(metadata["scopes_supported"]) == {"audio:read", "audio:write"}
    for what, token in bad_tokens(issuer).items():
        refused = _post(url, token)
        assert refused.status_code == 401, (what, refused.status_code, refused.text[:200])
        assert 'error="invalid_token"' in refused.headers["www-authenticate"], what
        assert _post(url, issuer.token()).status_code == 200, f"the server stopped serving after {what}"
    log = (oauth_server["root"] / "audit.jsonl").read_text()
    failures = [json.loads(line) for line in log.splitlines() if '"auth_failure"' in line]
    reasons = " ".join(f["error"] or "" for f in failures)
    for reason in ("ExpiredSignature", "InvalidAudience", "InvalidIssuer", "InvalidSignature", "unknown key id",
                   "algorithm 'none'", "does not name a tenant", "not served here", "ImmatureSignature"):
        assert reason in reasons, (reason, reasons)
    assert all(f["outcome"] == "401" and f["time"] for f in failures)
    for token in bad_tokens(issuer).values():  # not a token, nor any part of one, is ever written down
        for piece in token.split("."):
            assert len(piece) < 8 or piece not in log


def test_scopes_read_only_tools_need_audio_read_the_rest_audio_write(oauth_server, issuer):
    """Catches: a read-only token that can open or delete, a 403 without insufficient_scope, and a token with
    neither scope that can do anything."""
    url = oauth_server["url"]
    reader = issuer.token(scope="audio:read")
    nothing = issuer.token(scope="profile")
    assert _post(url, reader).status_code == 200  # initialize, list, read: audio:read is enough
    assert _post(url, nothing).status_code == 403
    for tool, arguments in (("open_audio", {"path": "x.wav"}), ("close_audio_session", {"session_id": "abc"}),
                            ("ask_audio", {"session_id": "abc", "question": "q"}),
                            ("start_upload", {}), ("no_such_tool", {})):
        refused = _post(url, reader, _call(tool, arguments))
        assert refused.status_code == 403, (tool, refused.status_code, refused.text[:200])
        challenge = refused.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in challenge and 'scope="audio:read audio:write"' in challenge
        assert "resource_metadata=" in challenge
    assert _post(url, issuer.token(scope="audio:write"), _call("list_audio_sessions", {})).status_code == 403
    log = [json.loads(line) for line in (oauth_server["root"] / "audit.jsonl").read_text().splitlines()]
    scoped = [e for e in log if e["event"] == "auth_failure" and e["outcome"] == "403"]
    assert {"open_audio", "close_audio_session", "ask_audio", "start_upload"} <= {e["tool"] for e in scoped}
    assert all(e["tenant"] == "acme" and e["principal"] == "user-1" for e in scoped)
    assert {e["error"] for e in scoped} == {"missing scope audio:write", "missing scope audio:read"}


def test_real_clients_of_two_tenants_reach_the_tools_and_are_audited(oauth_server, issuer):
    """Catches: the SDK client unable to work with a valid token, the tenant not taken from the claim, or tool
    calls missing from the audit log."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    url = oauth_server["url"]

    async def as_tenant(tenant: str) -> None:
        token = issuer.token(tenant=tenant, sub=f"user-of-{tenant}")
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            async with Client(streamable_http_client(url, http_client=http)) as client:
                assert "open_audio" in {t.name for t in (await client.list_tools()).tools}
                listed = await client.call_tool("list_audio_sessions", {})
                assert listed.is_error and "EngineUnavailable" in listed.content[0].text

    async def both() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(as_tenant, "acme")
            tg.start_soon(as_tenant, "globex")

    anyio.run(both)
    log = [json.loads(line) for line in (oauth_server["root"] / "audit.jsonl").read_text().splitlines()]
    calls = [e for e in log if e["event"] == "tool_call" and e["tool"] == "list_audio_sessions"]
    assert {(e["tenant"], e["principal"]) for e in calls} >= {("acme", "user-of-acme"), ("globex", "user-of-globex")}
    assert all(e["outcome"] == "error" and e["error"] == "EngineUnavailable" and e["duration_ms"] >= 0 for e in calls)
    assert set(calls[0]) == {"time", "event", "tenant", "principal", "tool", "session_id", "outcome", "error",
                             "duration_ms"}
