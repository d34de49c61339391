"""aero-mcp's store limits (--max-sessions / --max-store-mb) through a real in-process MCP client."""

from __future__ import annotations

from pathlib import Path

import anyio
from mcp import Client

from aero_mcp.cli import build_parser, config_from_args
from test_mcp_server import drive, folders, make_server, text_of  # noqa: F401  (fixture re-exported)


def test_cli_flags_reach_the_config(tmp_path: Path, monkeypatch):
    """Catches --max-sessions / --max-store-mb parsed but not passed to the server config."""
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["--max-sessions", "3", "--max-store-mb", "1.5", "--store", str(tmp_path / "s")])
    config = config_from_args(args)
    assert config.max_sessions == 3 and config.max_store_bytes == int(1.5 * 2**20)


def test_max_sessions_evicts_the_least_recently_used(engine, folders):  # noqa: F811
    """Catches the server's store ignoring max_sessions (both sessions would stay listed)."""

    async def script(client: Client) -> None:
        first = await client.call_tool("open_audio", {"path": "jfk.wav", "wait_s": 50})
        assert not first.is_error, text_of(first)
        second = await client.call_tool("open_audio", {"path": "meeting.wav", "wait_s": 50})
        assert not second.is_error, text_of(second)
        listed = await client.call_tool("list_audio_sessions", {})
        ids = [s["session_id"] for s in listed.structured_content["sessions"]]
        assert ids == [second.structured_content["session_id"]]
        gone = await client.call_tool("session_status", {"session_id": first.structured_content["session_id"]})
        assert gone.is_error

    drive(make_server(engine, folders, max_sessions=1), script)


def test_store_full_error_has_a_hint(engine, folders):  # noqa: F811
    """Catches a session over the byte limit being kept (it must come back failed, saying the store is full)."""

    async def script(client: Client) -> None:
        result = await client.call_tool("open_audio", {"path": "jfk.wav", "wait_s": 50})
        sid, info = result.structured_content["session_id"], result.structured_content
        for _ in range(50):  # the byte check runs once the encoding is saved, just after it reports ready
            if info["status"] == "failed":
                break
            await anyio.sleep(0.1)
            info = (await client.call_tool("session_status", {"session_id": sid})).structured_content
        assert info["status"] == "failed"
        assert "cannot make room" in info["error"]

    drive(make_server(engine, folders, max_store_bytes=1), script)
