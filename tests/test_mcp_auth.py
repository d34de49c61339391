"""Bearer-token authentication of aero-mcp over streamable HTTP: a real server process, raw HTTP requests and
the SDK's client sending the header; the token checks; the refusal to listen beyond loopback without a token.

The server runs ``--engine aero`` without a model: the engine fails to load at once, so no speech model is
loaded, yet every request still has to pass authentication before a tool answers (with EngineUnavailable).
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
try:  # installed by the project's pyproject; from a bare checkout, use the source folder
    import aero_mcp  # noqa: F401
except ImportError:
    sys.path.insert(0, str(REPO / "mcp_server"))

from aero_mcp.auth import AuthConfigError, StaticTokenVerifier, load_tokens  # noqa: E402
from mcp_process import http_server  # noqa: E402

TOKEN = "aero-test-token-0123456789abcdef"
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "raw-http", "version": "0"}}}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mcp-auth")
    (root / "audio").mkdir()
    token_file = root / "tokens"
    token_file.write_text(f"# aero-mcp tokens\n\n{TOKEN}\nanother-token-fedcba9876543210\n")
    token_file.chmod(0o600)
    with http_server(root, "--allow-dir", str(root / "audio"), "--store", str(root / "store"), "--engine", "aero",
                     "--auth-token-file", str(token_file)) as server:
        yield server["url"]


def test_raw_requests_without_a_valid_token_get_401_with_www_authenticate(auth_server):
    """Catches: the SDK's auth not wired into the HTTP app (200 without a token), or a verifier that accepts
    any token, a prefix of a token, or the token under another scheme."""
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789abcdef"},
                    {"Authorization": f"Bearer {TOKEN[:-1]}"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": "Bearer x"}):
        response = httpx.post(auth_server, json=INITIALIZE, headers={**HEADERS, **headers}, timeout=30)
        assert response.status_code == 401, (headers, response.status_code, response.text[:200])
        assert response.headers["www-authenticate"].startswith("Bearer ")
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
    ok = httpx.post(auth_server, json=INITIALIZE, headers={**HEADERS, "Authorization": f"Bearer {TOKEN}"},
                    timeout=30)
    assert ok.status_code == 200, ok.text[:300]
    assert "aero-mcp" in ok.text  # the initialize result names the server


def test_the_sdk_client_with_the_header_works_and_without_it_is_refused(auth_server):
    """Catches: a server that refuses a valid token from a real client, or that lets a client without one
    reach the tools."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async def with_token() -> None:
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as http:
            async with Client(streamable_http_client(auth_server, http_client=http)) as client:
                names = {t.name for t in (await client.list_tools()).tools}
                assert {"open_audio", "ask_audio", "list_audio_sessions"} <= names
                listed = await client.call_tool("list_audio_sessions", {})
                text = "\n".join(getattr(b, "text", "") for b in listed.content)
                assert listed.is_error and "EngineUnavailable" in text  # the call reached the tool

    statuses: list[int] = []

    async def record(response) -> None:
        statuses.append(response.status_code)

    async def without_token() -> None:
        async with httpx2.AsyncClient(timeout=30, event_hooks={"response": [record]}) as http:
            async with Client(streamable_http_client(auth_server, http_client=http)) as client:
                await client.list_tools()

    anyio.run(with_token)
    with pytest.raises(Exception, match="errors in a TaskGroup"):  # the client gives up on the error response
        anyio.run(without_token)
    assert statuses and set(statuses) == {401}, statuses


def test_token_checks_and_sources(tmp_path: Path):
    """Catches: a verifier that accepts a wrong token or a token's prefix, a file whose comments count as
    tokens, short tokens accepted, or the environment variable ignored."""
    verifier = StaticTokenVerifier([TOKEN, "second-token-0123456789"])

    async def check() -> None:
        assert (await verifier.verify_token(TOKEN)).client_id == "aero-mcp-token"
        assert await verifier.verify_token("second-token-0123456789") is not None
        for wrong in ("", TOKEN[:-1], TOKEN + "x", TOKEN.upper(), "second-token"):
            assert await verifier.verify_token(wrong) is None, wrong

    anyio.run(check)
    path = tmp_path / "tokens"
    path.write_text(f"# comment {TOKEN}\n\n  {TOKEN}  \n")
    assert load_tokens(path, environ={}) == [TOKEN]
    assert load_tokens(None, environ={"AERO_MCP_AUTH_TOKEN": f" {TOKEN}\n"}) == [TOKEN]
    assert load_tokens(None, environ={}) == []
    path.write_text("short\n")
    with pytest.raises(AuthConfigError, match="shorter than 16"):
        load_tokens(path, environ={})
    path.write_text("# nothing\n")
    with pytest.raises(AuthConfigError, match="holds no token"):
        load_tokens(path, environ={})
    with pytest.raises(AuthConfigError, match="cannot read"):
        load_tokens(tmp_path / "missing", environ={})
    with pytest.raises(AuthConfigError):
        StaticTokenVerifier([])


def test_a_non_loopback_host_without_a_token_is_refused(tmp_path: Path, caplog, monkeypatch):
    """Catches: the server starting on 0.0.0.0 without authentication (it used to only warn)."""
    from aero_mcp import cli

    monkeypatch.setattr(cli, "_setup_logging", lambda level: None)  # leave the test process's logging alone
    monkeypatch.delenv("AERO_MCP_AUTH_TOKEN", raising=False)
    started: list[str] = []
    monkeypatch.setattr(cli, "_serve_http", lambda *a: started.append("http"))
    for host in ("0.0.0.0", "192.168.1.20", "::"):
        assert cli.main(["--transport", "streamable-http", "--host", host, "--allow-dir", str(tmp_path)]) == 2
        assert "refusing to listen" in caplog.text and "--auth-token-file" in caplog.text
    assert started == []
    args = cli.build_parser().parse_args(["--transport", "streamable-http", "--host", "0.0.0.0"])
    monkeypatch.setenv("AERO_MCP_AUTH_TOKEN", TOKEN)
    options = cli.http_auth(args)
    assert set(options) == {"auth", "token_verifier"}  # a token from the environment is enough
    loopback = cli.build_parser().parse_args(["--transport", "streamable-http"])
    monkeypatch.delenv("AERO_MCP_AUTH_TOKEN")
    assert cli.http_auth(loopback) == {}  # loopback without a token stays open, as before
