"""aero-mcp as a real stdio subprocess, driven by the scripted agent of examples/mcp_scripted_client.py.

One subprocess (it loads the Whisper model again): the scripted multi-turn agent, then bad input through
the protocol on the same connection, then a check that the server still serves and logged to stderr only.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import anyio
from mcp import Client
from mcp.client.stdio import stdio_client

from aero_agent.data import example_path

REPO = Path(__file__).resolve().parent.parent
try:  # installed by the project's pyproject; from a bare checkout, use the source folder
    import aero_mcp  # noqa: F401
except ImportError:
    sys.path.insert(0, str(REPO / "mcp_server"))


def _example():
    spec = importlib.util.spec_from_file_location("mcp_scripted_client", REPO / "examples" / "mcp_scripted_client.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stdio_subprocess_scripted_agent_and_bad_input(tmp_path: Path):
    example = _example()
    audio, outside = tmp_path / "audio", tmp_path / "outside"
    audio.mkdir()
    outside.mkdir()
    shutil.copy(example_path("ami-short"), audio / "meeting.wav")
    shutil.copy(example_path("ami-short"), outside / "private.wav")
    (audio / "link.wav").symlink_to(outside / "private.wav")
    (audio / "broken.wav").write_bytes(example_path("ami-short").read_bytes()[:3000])
    params = example.server_parameters(audio, tmp_path / "store", "--log-level", "INFO")
    lines: list[str] = []

    async def main(errlog) -> None:
        # the initialize handshake, as Claude Desktop speaks it
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            with anyio.fail_after(120):
                learnt = await example.run_agent(client, audio / "meeting.wav", "What can people call her?", lines.append)
            assert learnt["status"] == "ready" and "call me" in learnt["transcript"].lower()
            assert [a["turn"] for a in learnt["answers"]] == [1, 2]
            assert "abbie" in learnt["answers"][0]["answer"].lower() or "abi" in learnt["answers"][0]["answer"].lower()
            assert learnt["extract_error"] and "only transcribes" in learnt["extract_error"]
            assert len(learnt["history"]) == 4 and learnt["hits"]
            sid = learnt["session_id"]

            for name, args, expected in [
                ("open_audio", {"path": str(outside / "private.wav")}, "outside the allowed folders"),
                ("open_audio", {"path": "link.wav"}, "outside the allowed folders"),
                ("open_audio", {"path": "../outside/private.wav"}, "outside the allowed folders"),
                ("open_audio", {"path": "broken.wav"}, "truncated"),
                ("open_audio", {"path": "nothing-here.wav"}, "no such file"),
                ("ask_audio", {"session_id": "s0123456789ab", "question": "hi"}, "unknown session"),
                ("search_audio", {"session_id": sid, "query": "name", "k": "three"}, "valid integer"),
                ("ask_audio", {"session_id": sid, "question": "why? " * 200_000}, "at most 8000"),
            ]:
                result = await client.call_tool(name, args)
                text = "\n".join(getattr(b, "text", "") for b in result.content)
                assert result.is_error and expected in text, (name, text[:300])
            status = await client.call_tool("session_status", {"session_id": sid})
            assert status.structured_content["status"] == "ready" and status.structured_content["turns"] == 2

    with open(tmp_path / "stderr.log", "w") as errlog:
        anyio.run(main, errlog)
    log = (tmp_path / "stderr.log").read_text()
    assert "aero-mcp: stdio transport" in log and "opened" in log  # logs went to stderr
    assert any(line.startswith("[server] refused:") for line in lines)


def test_command_line(tmp_path: Path, caplog, monkeypatch):
    """Options and refusals in process; the installed ``aero-mcp`` console script, when there is one."""
    from aero_mcp import cli
    from aero_mcp.cli import build_parser, main

    monkeypatch.setattr(cli, "_setup_logging", lambda level: None)  # leave the test process's logging alone

    help_text = build_parser().format_help()
    for option in ("--transport", "--host", "--port", "--allow-dir", "--store", "--engine", "--model",
                   "--max-duration", "--max-size-mb", "--max-wait"):
        assert option in help_text
    assert build_parser().parse_args([]).host == "127.0.0.1"  # loopback unless told otherwise
    assert main(["--allow-dir", str(tmp_path / "no-such-folder")]) == 2
    assert "do not exist" in caplog.text
    script = shutil.which("aero-mcp", path=str(Path(sys.executable).parent))
    if script:
        done = subprocess.run([script, "--version"], check=False, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and done.stdout.startswith("aero-mcp ")
