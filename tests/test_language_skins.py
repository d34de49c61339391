"""Language and task in the skins: MCP open_audio/transcribe_audio with Whisper base on German speech made with
eSpeak NG (tests/data), and the LangChain open_audio refusing a multilingual request of the English-only default."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from mcp import Client
from mcp_driver import drive

from aero_mcp import ServerConfig, create_server

from espeak_clips import GERMAN, GERMAN_IN_ENGLISH


def test_mcp_open_audio_passes_language_and_task(base_engine, tmp_path: Path) -> None:
    """Catches: open_audio's language/task not reaching the store (the German would come back in German), the
    language and task missing from the status, the transcript result and the session list."""
    audio = tmp_path / "audio"
    audio.mkdir()
    shutil.copy(GERMAN, audio / "de.flac")
    server = create_server(ServerConfig(allow_dirs=[audio], store_dir=tmp_path / "store"), engine=base_engine)

    async def script(client: Client) -> dict[str, Any]:
        opened = (await client.call_tool("open_audio", {"path": "de.flac", "wait_s": 50, "language": "German",
                                                         "task": "translate"})).structured_content
        for _ in range(10):  # ready within one wait on an idle machine; a busy one may need more
            if opened["status"] != "encoding":
                break
            opened = (await client.call_tool("session_status", {"session_id": opened["session_id"],
                                                                "wait_s": 50})).structured_content
        got = (await client.call_tool("transcribe_audio", {"session_id": opened["session_id"], "format": "json"}))
        bad = await client.call_tool("open_audio", {"path": "de.flac", "language": "xx"})
        listed = await client.call_tool("list_audio_sessions", {})
        return {"opened": opened, "transcript": got.structured_content, "bad": bad,
                "listed": "\n".join(getattr(b, "text", "") for b in listed.content)}

    out = drive(server, script)
    opened = out["opened"]
    assert opened["status"] == "ready" and opened["language"] == "de" and opened["task"] == "translate"
    assert opened["language_probability"] is None  # given, not detected
    assert out["transcript"]["language"] == "de" and out["transcript"]["task"] == "translate"
    said = {w.strip(".,!?").lower() for w in out["transcript"]["text"].split()}
    assert len(said & set(GERMAN_IN_ENGLISH.split())) >= 5 and not said & {"guten", "morgen", "heute", "wetter"}
    assert "translated from de into English" in out["listed"]
    assert out["bad"].is_error and "unknown language" in out["bad"].content[0].text


def test_langchain_open_audio_refuses_translation_on_tiny_en(engine, tmp_path: Path) -> None:
    """Catches: the toolkit dropping language/task (tiny.en would transcribe German as English nonsense), the
    refusal raised as an exception instead of an error message the model can act on."""
    from langchain_aero import AudioToolkit

    shutil.copy(GERMAN, tmp_path / "de.flac")
    kit = AudioToolkit(engine=engine, allowed_dirs=[tmp_path])
    open_audio = {t.name: t for t in kit.get_tools()}["open_audio"]
    assert {"language", "task"} <= set(open_audio.args_schema.model_json_schema()["properties"])
    message = open_audio.invoke({"type": "tool_call", "id": "c1", "name": "open_audio",
                                 "args": {"path": "de.flac", "task": "translate"}})
    assert message.status == "error" and "English-only" in message.content and "--model base" in message.content
    assert kit.store.list() == []  # refused before anything was decoded or stored
