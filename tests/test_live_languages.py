"""Language, task and timing of live sessions in the skins: MCP and LangChain ``start_live_session`` take them as
``open_audio`` does, refuse what the model cannot honour before any audio is sent, and the language reaches the
decoder (German speech made with eSpeak NG, translated live by Whisper base). The timing options (window, step,
pause, anchor) reach the session from both skins and are bounded by the one table the CLI reads too."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mcp import Client
from pydantic import ValidationError

from aero_agent.audio import load_audio
from aero_agent.errors import InvalidArgumentError
from aero_agent.live import LIMITS, LiveOptions

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


TIMING = {"window_s": 15.0, "step_s": 1.5, "pause_s": 0.4, "anchor_s": 0.2, "context_s": 1.0}
"""Non-default timing options, as a caller would set them."""
BAD_TIMING = [("step_s", 0.0), ("step_s", 4.5), ("window_s", -5.0), ("window_s", 45.0), ("pause_s", 0.0),
              ("pause_s", 30.0), ("anchor_s", -0.1), ("anchor_s", 3.0), ("context_s", -1.0), ("context_s", 9.0)]


def _uses_timing(session) -> None:
    """The session decodes with ``TIMING``: its options, its step, and its engine twin's encoder window."""
    options = session.live_options
    assert {k: getattr(options, k) for k in TIMING} == TIMING
    assert session.live_stats.step_s == 1.5 and session.live.processor.engine.options.min_window_s == 15.0


@pytest.mark.parametrize(("name", "value"), BAD_TIMING, ids=[f"{n}={v:g}" for n, v in BAD_TIMING])
def test_timing_bounds_are_one_table_for_core_cli_and_tools(name: str, value: float, capsys) -> None:
    """Catches: a bound kept in a skin or the CLI that differs from LiveOptions' (one refuses what another
    takes), or a bad value reaching the processor as anything but a typed error."""
    from aero_agent import cli
    from langchain_aero.start_live_session import StartLiveSessionInput

    with pytest.raises(InvalidArgumentError, match=f"live option {name}="):
        LiveOptions.of(**{name: value})
    with pytest.raises(ValidationError):
        StartLiveSessionInput(**{name: value})
    flag = "--" + name.removesuffix("_s")
    with pytest.raises(SystemExit) as stop:
        cli.main(["listen", "-", flag, str(value)])
    assert stop.value.code == 2 and flag in capsys.readouterr().err
    high = LIMITS[name].cap()
    assert LiveOptions.of(**{name: high}) and StartLiveSessionInput(**{name: high})  # the bound itself is taken


def test_mcp_start_live_session_timing_options(engine, tmp_path: Path) -> None:
    """Catches: the timing arguments missing from the tool's schema (or without bounds), dropped on the way to
    the session, or a bad value crashing the server instead of coming back as a tool error."""
    server = create_server(ServerConfig(allow_dirs=[tmp_path], store_dir=tmp_path / "store"), engine=engine)

    async def script(client: Client) -> dict[str, Any]:
        schema = {t.name: t for t in (await client.list_tools()).tools}["start_live_session"].input_schema
        out: dict[str, Any] = {"schema": schema["properties"]}
        out["bad"] = [await client.call_tool("start_live_session", {"step_s": 0}),
                      await client.call_tool("start_live_session", {"window_s": 45})]
        started = await client.call_tool("start_live_session", TIMING)
        assert not started.is_error, started.content
        sid = started.structured_content["session_id"]
        _uses_timing((await server.backend.store()).get(sid))
        out["default"] = (await client.call_tool("start_live_session", {})).structured_content["session_id"]
        out["listed"] = (await client.call_tool("list_audio_sessions", {})).structured_content
        return out | {"sid": sid}

    out = drive(server, script)
    step = out["schema"]["step_s"]["anyOf"][0]
    assert step["exclusiveMinimum"] == 0 and step["maximum"] == 4
    assert "decodes" in out["schema"]["step_s"]["description"]
    assert out["schema"]["window_s"]["anyOf"][0]["maximum"] == 30 and out["schema"]["anchor_s"]["default"] is None
    assert all(r.is_error for r in out["bad"]), [r.content for r in out["bad"]]
    assert "step_s" in out["bad"][0].content[0].text and "window_s" in out["bad"][1].content[0].text
    assert {s["session_id"] for s in out["listed"]["sessions"]} == {out["sid"], out["default"]}


def test_langchain_start_live_session_timing_options(engine) -> None:
    """Catches: the toolkit's start_live_session without the timing options, dropping them, or a bad value
    raised as an exception instead of an error message (and a refused session kept in the store)."""
    from langchain_aero import AudioToolkit

    kit = AudioToolkit(engine=engine)
    start = {t.name: t for t in kit.get_tools()}["start_live_session"]
    properties = start.args_schema.model_json_schema()["properties"]
    assert properties["pause_s"]["anyOf"][0] == {"exclusiveMinimum": 0, "maximum": 25, "type": "number"}

    def call(**args: Any):
        return start.invoke({"type": "tool_call", "id": "c1", "name": "start_live_session", "args": args})
    refused = call(step_s=4.5)
    assert refused.status == "error" and refused.content.startswith("Error:") and "step_s" in refused.content
    assert kit.store.list() == []
    started = call(**TIMING)
    assert started.status == "success", started.content
    _uses_timing(kit.store.get(started.artifact["session_id"]))
    default = call()
    assert kit.store.get(default.artifact["session_id"]).live_options == LiveOptions()
    kit.store.shutdown()
