"""README claims about aero-mcp and the LangChain toolkit that had no test: folders, caps, resources, prompts."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from mcp import Client

from aero_agent.data import EXAMPLE_TEXT, example_path

REPO = Path(__file__).resolve().parent.parent
try:  # installed by the project's pyproject; from a bare checkout, use the source folder
    import aero_mcp  # noqa: F401
except ImportError:
    sys.path.insert(0, str(REPO / "mcp_server"))

from aero_mcp.cli import build_parser, config_from_args
from test_mcp_server import drive, folders, make_server, text_of, words  # noqa: F401 - folders is a fixture

PROMPTS = {"meeting_minutes": {}, "action_items": {}, "summarize_recording": {"focus": "the ask"},
           "find_moments": {"topic": "country"}, "subtitles": {"format": "vtt"}}


def test_root_is_refused_as_the_default_allowed_folder(monkeypatch, tmp_path: Path) -> None:
    """Catches the server starting with every file allowed when run from ``/`` with no --allow-dir."""
    monkeypatch.delenv("AERO_MCP_ALLOW_DIRS", raising=False)
    monkeypatch.chdir("/")
    with pytest.raises(ValueError, match="filesystem root"):
        config_from_args(build_parser().parse_args(["--store", str(tmp_path / "store")]))


def test_allow_dirs_come_from_the_environment(monkeypatch, tmp_path: Path) -> None:
    """Catches ``$AERO_MCP_ALLOW_DIRS`` ignored (or not split on the path separator), and --allow-dir not
    taking precedence over it."""
    a, b, c = (tmp_path / n for n in "abc")
    for d in (a, b, c):
        d.mkdir()
    monkeypatch.setenv("AERO_MCP_ALLOW_DIRS", os.pathsep.join([str(a), str(b)]))
    store = ["--store", str(tmp_path / "store")]
    assert config_from_args(build_parser().parse_args(store)).allow_dirs == [a.resolve(), b.resolve()]
    explicit = config_from_args(build_parser().parse_args([*store, "--allow-dir", str(c)]))
    assert explicit.allow_dirs == [c.resolve()]


@pytest.mark.parametrize("options,expected", [({"max_bytes": 100_000}, "bytes"),
                                              ({"max_duration_s": 5.0}, "over the 5 s cap")])
def test_size_and_duration_caps_refuse_the_file(engine, folders, options, expected: str) -> None:
    """Catches --max-size-mb or --max-duration not reaching open_audio: the 11 s, 350 kB JFK clip is refused
    with the cap named, and no session is made."""
    async def script(client: Client) -> None:
        refused = await client.call_tool("open_audio", {"path": "jfk.wav"})
        assert refused.is_error and expected in text_of(refused), text_of(refused)
        assert (await client.call_tool("list_audio_sessions", {})).structured_content["sessions"] == []

    drive(make_server(engine, folders, **options), script)


def test_session_and_json_transcript_resources_and_every_prompt(engine, folders) -> None:
    """Catches a missing or wrong ``audio://sessions/{id}`` or ``.json`` transcript resource, and any of the
    five prompts failing or not embedding the ready session's transcript."""
    async def script(client: Client) -> None:
        opened = (await client.call_tool("open_audio", {"path": "jfk.wav", "wait_s": 50})).structured_content
        sid = opened["session_id"]
        info = json.loads((await client.read_resource(f"audio://sessions/{sid}")).contents[0].text)
        assert info["session_id"] == sid and info["status"] == "ready" and info["duration_s"] == pytest.approx(11.0)
        as_json = json.loads((await client.read_resource(f"audio://sessions/{sid}/transcript.json")).contents[0].text)
        assert as_json["segments"] and as_json["segments"][0]["start"] == 0.0
        assert words(" ".join(s["text"] for s in as_json["segments"])) == words(EXAMPLE_TEXT["jfk"])
        listed = {p.name for p in (await client.list_prompts()).prompts}
        assert listed == set(PROMPTS)
        for name, extra in PROMPTS.items():
            prompt = await client.get_prompt(name, {"audio": sid, **extra})
            assert sid in prompt.messages[0].content.text, name
            assert "ask not what your country" in words(prompt.messages[1].content.resource.text), name
        assert "vtt" in (await client.get_prompt("subtitles", {"audio": sid, "format": "vtt"})).messages[0].content.text.lower()
        assert "country" in (await client.get_prompt("find_moments", {"audio": sid, "topic": "country"})).messages[0].content.text

    drive(make_server(engine, folders), script)


def test_langchain_allowed_dirs_expand_the_home_folder(engine, monkeypatch, tmp_path: Path) -> None:
    """Catches ``~`` in ``allowed_dirs`` taken literally: with HOME set to a temporary folder,
    ``~/recordings`` admits a file there and refuses one outside it."""
    from langchain_aero import AudioToolkit

    home = tmp_path / "home"
    (home / "recordings").mkdir(parents=True)
    shutil.copy(example_path("ami-short"), home / "recordings" / "standup.wav")
    shutil.copy(example_path("ami-short"), tmp_path / "outside.wav")
    monkeypatch.setenv("HOME", str(home))
    toolkit = AudioToolkit(engine=engine, allowed_dirs=["~/recordings"])
    assert toolkit.allowed_dirs == [(home / "recordings").resolve()]
    open_audio = next(t for t in toolkit.get_tools() if t.name == "open_audio")
    call = {"type": "tool_call", "id": "c1", "name": "open_audio", "args": {"path": "~/recordings/standup.wav"}}
    opened = open_audio.invoke(call)
    assert opened.status == "success" and opened.artifact["status"] == "ready", opened.content
    outside = open_audio.invoke({**call, "args": {"path": str(tmp_path / "outside.wav")}})
    assert outside.status == "error" and "outside the allowed folders" in outside.content
