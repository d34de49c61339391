"""Language and task of live sessions in the skins: MCP and LangChain ``start_live_session`` take them as
``open_audio`` does, refuse what the model cannot honour before any audio is sent, and the language reaches the
decoder (German speech made with eSpeak NG, translated live by Whisper base)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np
from mcp import Client

from aero_agent.audio import load_audio

from espeak_clips import GERMAN, GERMAN_IN_ENGLISH
from mcp_driver import drive

from aero_mcp import ServerConfig, create_server


def _chunks(path: Path, seconds: float = 2.3) -> list[str]:
    samples = np.clip(load_audio(path).samples * 32767, -32768, 32767).astype("<i2").tobytes()
    step = int(seconds * 16_000) * 2
    return [base64.b64encode(samples[i:i + step]).decode() for i in range(0, len(samples), step)]


def _serve(engine, tmp_path: Path, script) -> Any:
    return drive(create_server(ServerConfig(allow_dirs=[tmp_path], store_dir=tmp_path / "store"), engine=engine), script)


def test_mcp_start_live_session_refuses_what_tiny_en_cannot_do(engine, tmp_path: Path) -> None:
    """Catches: language/task dropped by start_live_session (tiny.en would 'translate' English as English), the
    refusal not typed (a crash instead of an error the model can act on), or a refused session left in the
    store."""
    async def script(client: Client) -> dict[str, Any]:
        out = {name: await client.call_tool("start_live_session", args) for name, args in {
            "translate": {"task": "translate"}, "german": {"language": "de"}, "unknown": {"language": "xx"},
            "bad_task": {"task": "summarise"}, "english": {"language": "en"}}.items()}
        out["listed"] = (await client.call_tool("list_audio_sessions", {})).structured_content
        return out

    out = _serve(engine, tmp_path, script)
    for name in ("translate", "german"):
        assert out[name].is_error and "English-only" in out[name].content[0].text, out[name].content
    assert out["unknown"].is_error and "unknown language" in out["unknown"].content[0].text
    assert out["bad_task"].is_error
    english = out["english"].structured_content
    assert not out["english"].is_error and english["status"] == "live" and english["language"] == "en"
    assert [s["session_id"] for s in out["listed"]["sessions"]] == [english["session_id"]]


def test_mcp_live_session_translates_german_with_base(base_engine, tmp_path: Path) -> None:
    """Catches: the language and task not reaching the live decoder (the text would come back in German or be
    English nonsense) or missing from the session's status and transcript."""
    async def script(client: Client) -> dict[str, Any]:
        started = (await client.call_tool("start_live_session", {"language": "German", "task": "translate"}))
        sid = started.structured_content["session_id"]
        for chunk in _chunks(GERMAN):
            appended = await client.call_tool("append_audio", {"session_id": sid, "audio_base64": chunk})
            assert not appended.is_error, appended.content
        await client.call_tool("finish_live_session", {"session_id": sid})
        got = await client.call_tool("transcribe_audio", {"session_id": sid, "format": "json"})
        return {"started": started.structured_content, "transcript": got.structured_content}

    out = _serve(base_engine, tmp_path, script)
    assert out["started"]["language"] == "de" and out["started"]["task"] == "translate"
    assert out["transcript"]["language"] == "de" and out["transcript"]["task"] == "translate"
    said = {w.strip(".,!?").lower() for w in out["transcript"]["text"].split()}
    assert len(said & set(GERMAN_IN_ENGLISH.split())) >= 5, out["transcript"]["text"]
    assert not said & {"guten", "morgen", "heute", "wetter"}, out["transcript"]["text"]


def test_langchain_start_live_session_language_and_task(engine) -> None:
    """Catches: the toolkit's start_live_session without language/task, or its refusal raised as an exception
    instead of an error message (and a refused session kept in the store)."""
    from langchain_aero import AudioToolkit

    kit = AudioToolkit(engine=engine)
    start = {t.name: t for t in kit.get_tools()}["start_live_session"]
    assert {"language", "task"} <= set(start.args_schema.model_json_schema()["properties"])

    def call(**args: Any):
        return start.invoke({"type": "tool_call", "id": "c1", "name": "start_live_session", "args": args})
    refused = call(task="translate")
    assert refused.status == "error" and "English-only" in refused.content and "--model base" in refused.content
    assert kit.store.list() == []
    started = call(language="en")
    assert started.status == "success" and started.artifact["language"] == "en"
    assert [s.id for s in kit.store.list()] == [started.artifact["session_id"]]
    kit.store.shutdown()
