"""The audio toolkit on the real engine: parallel async sessions, path confinement, error messages, options."""

from __future__ import annotations

import asyncio
import gc
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from langchain_aero import TOOL_CLASSES, AudioToolkit, ScriptedChatModel
from langchain_aero.tools import cap_transcript
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import BaseTool

from aero_agent.data import DATA_DIR, example_path
from aero_agent.store import SessionStore
from aero_agent.transcript import Segment, Transcript


def call(name: str, **args: Any) -> dict[str, Any]:
    """A ToolCall, so that invoke returns a ToolMessage with status and artifact."""
    return {"type": "tool_call", "id": f"call-{name}", "name": name, "args": args}


def tools_of(kit: AudioToolkit) -> dict[str, BaseTool]:
    return {t.name: t for t in kit.get_tools()}


@pytest.fixture(scope="module")
def pair(engine):
    """The JFK and meeting clips, opened at the same time from two async tool calls."""
    kit = AudioToolkit(engine=engine, allowed_dirs=[DATA_DIR])
    tools = tools_of(kit)

    async def open_both() -> list[ToolMessage]:
        return await asyncio.gather(*(tools["open_audio"].ainvoke(call("open_audio", path=example_path(name).name))
                                      for name in ("jfk", "ami-short")))

    opened = asyncio.run(open_both())
    yield kit, tools, opened
    kit.store.shutdown()


# ----- concurrency ------------------------------------------------------------------------------------
def test_two_sessions_from_parallel_async_calls(pair) -> None:
    _, tools, opened = pair
    assert [m.status for m in opened] == ["success", "success"]
    jfk, meeting = (m.artifact["id"] for m in opened)
    assert jfk != meeting
    assert opened[0].artifact["duration_s"] == pytest.approx(11.0, abs=0.05)
    assert opened[1].artifact["duration_s"] == pytest.approx(6.0, abs=0.05)

    async def queries() -> list[ToolMessage]:
        return await asyncio.gather(
            tools["transcribe_audio"].ainvoke(call("transcribe_audio", session_id=jfk)),
            tools["transcribe_audio"].ainvoke(call("transcribe_audio", session_id=meeting)),
            tools["search_audio"].ainvoke(call("search_audio", session_id=jfk, query="country")),
            tools["search_audio"].ainvoke(call("search_audio", session_id=meeting, query="country")),
            tools["ask_audio"].ainvoke(call("ask_audio", session_id=jfk, question="What should you ask?")),
            tools["ask_audio"].ainvoke(call("ask_audio", session_id=meeting, question="What can we call her?")),
            tools["search_audio"].ainvoke(call("search_audio", session_id=meeting, query="Abigail")),
            tools["list_audio_sessions"].ainvoke(call("list_audio_sessions")),
        )

    t_jfk, t_meet, s_jfk, s_meet, a_jfk, a_meet, s_name, listed = asyncio.run(queries())
    assert all(m.status == "success" for m in (t_jfk, t_meet, s_jfk, s_meet, a_jfk, a_meet, s_name, listed))
    assert "country" in t_jfk.content.lower() and "abigail" not in t_jfk.content.lower()
    assert "abigail" in t_meet.content.lower() and "country" not in t_meet.content.lower()
    strong = [h for h in s_jfk.artifact["hits"] if h["label"] == "strong"]
    assert strong and all("country" in h["text"].lower() for h in strong)
    # a search always answers: nothing about a country in the meeting, so its closest passages come labelled weak
    assert s_meet.artifact["hits"] and all(h["label"] == "weak" for h in s_meet.artifact["hits"])
    assert "no passage matches this query well" in s_meet.content
    assert any("ask what you can do" in seg["text"].lower() for seg in a_jfk.artifact["evidence"])
    assert any("call me" in seg["text"].lower() for seg in a_meet.artifact["evidence"])
    assert "abigail" in s_name.artifact["hits"][0]["text"].lower()
    assert sorted(info["id"] for info in listed.artifact) == sorted([jfk, meeting])


def test_parallel_questions_on_one_session_are_serialised(pair) -> None:
    _, tools, opened = pair
    jfk = opened[0].artifact["id"]

    async def ask_four() -> list[ToolMessage]:
        return await asyncio.gather(*(tools["ask_audio"].ainvoke(call("ask_audio", session_id=jfk,
                                                                       question=f"question {i}: country?"))
                                      for i in range(4)))

    answers = asyncio.run(ask_four())
    turns = [a.artifact["turn"] for a in answers]
    assert len(set(turns)) == 4 and sorted(turns) == list(range(min(turns), min(turns) + 4))


def test_sync_and_async_give_the_same_result(pair) -> None:
    _, tools, opened = pair
    meeting = opened[1].artifact["id"]
    args = call("transcribe_audio", session_id=meeting, format="vtt")
    sync = tools["transcribe_audio"].invoke(args)
    asynchronous = asyncio.run(tools["transcribe_audio"].ainvoke(args))
    assert sync.content == asynchronous.content and sync.content.startswith("WEBVTT")
    assert sync.artifact == asynchronous.artifact


# ----- errors the model can act on -----------------------------------------------------------------------
BAD_CALLS = [
    ("transcribe_audio", {"start_s": 50}, "outside the audio (0-11.00 s)"),
    ("transcribe_audio", {"start_s": 8, "end_s": 2}, "outside the audio"),
    ("transcribe_audio", {"start_s": -1}, "outside the audio"),
    ("transcribe_audio", {"format": "docx"}, "format: Input should be 'text', 'srt', 'vtt', 'json' or 'rttm'"),
    ("search_audio", {"query": "country", "k": 0}, "k: Input should be greater than or equal to 1"),
    ("search_audio", {"query": "   "}, "query must be a non-empty string"),
    ("ask_audio", {}, "question: Field required"),
    ("extract_from_audio", {"instruction": "x", "json_schema": "{not json"}, "json_schema is not valid JSON"),
    ("extract_from_audio", {"instruction": "x", "json_schema": {"type": 12}}, "invalid JSON schema"),
    ("extract_from_audio", {"instruction": "x", "json_schema": {"type": "string"}}, "must be object or array"),
    ("extract_from_audio", {"instruction": "List the items."}, "only transcribes, so it cannot extract"),
]


@pytest.mark.parametrize(("tool", "args", "expected"), BAD_CALLS, ids=[f"{t}-{e[:24]}" for t, _, e in BAD_CALLS])
def test_bad_calls_come_back_as_error_messages(pair, tool: str, args: dict, expected: str) -> None:
    _, tools, opened = pair
    message = tools[tool].invoke(call(tool, session_id=opened[0].artifact["id"], **args))
    assert isinstance(message, ToolMessage) and message.status == "error"
    assert expected in message.content and message.content.startswith("Error:")
    assert message.artifact is None


@pytest.mark.parametrize("tool", ["transcribe_audio", "ask_audio", "search_audio", "extract_from_audio",
                                  "close_audio_session"])
def test_unknown_session_points_to_list(pair, tool: str) -> None:
    _, tools, _ = pair
    extra = {"transcribe_audio": {}, "ask_audio": {"question": "q"}, "search_audio": {"query": "q"},
             "extract_from_audio": {"instruction": "q"}, "close_audio_session": {}}[tool]
    for session_id in ("s000000000000", "../../etc"):
        message = tools[tool].invoke(call(tool, session_id=session_id, **extra))
        assert message.status == "error" and "unknown session id" in message.content
        assert "list_audio_sessions" in message.content
    async_message = asyncio.run(tools[tool].ainvoke(call(tool, session_id="s000000000000", **extra)))
    assert async_message.status == "error" and "unknown session id" in async_message.content


def test_errors_without_a_tool_call_raise_nothing(pair) -> None:
    """Plain-argument invocation (no ToolCall) returns the error text, like a model would see it."""
    _, tools, _ = pair
    assert "unknown session id" in tools["transcribe_audio"].invoke({"session_id": "nope"})


# ----- file access -------------------------------------------------------------------------------------
def test_paths_outside_allowed_dirs_and_symlink_escapes_are_refused(tmp_path: Path, engine, monkeypatch) -> None:
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    secret = outside / "secret.wav"
    shutil.copy(example_path("ami-short"), secret)
    shutil.copy(example_path("ami-short"), allowed / "inside.wav")
    (allowed / "escape.wav").symlink_to(secret)
    (allowed / "door").symlink_to(outside, target_is_directory=True)
    (allowed / "inner.wav").symlink_to(allowed / "inside.wav")
    (allowed / "notes.wav").write_text("not audio at all")

    monkeypatch.chdir(allowed)
    kit = AudioToolkit(engine=engine)  # allowed_dirs defaults to the current directory
    assert kit.allowed_dirs == [allowed.resolve()]
    open_audio = tools_of(kit)["open_audio"]

    refused = {
        str(secret): "outside the allowed folders",
        "../outside/secret.wav": "outside the allowed folders",
        "escape.wav": "outside the allowed folders",
        "door/secret.wav": "outside the allowed folders",
        str(allowed / ".." / "outside" / "secret.wav"): "outside the allowed folders",
        "missing.wav": "no such file",
        ".": "not a regular file",
        "notes.wav": "notes.wav",
    }
    for path, expected in refused.items():
        message = open_audio.invoke(call("open_audio", path=path))
        assert message.status == "error", path
        assert expected in message.content, (path, message.content)
    assert str(allowed.resolve()) in open_audio.invoke(call("open_audio", path=str(secret))).content
    assert kit.store.list() == []

    # a symlink that stays inside the allowed folder is fine, and opens the real file
    opened = open_audio.invoke(call("open_audio", path="inner.wav"))
    assert opened.status == "success"
    assert Path(opened.artifact["source"]).name == "inside.wav"
    kit.store.shutdown()


# ----- toolkit options ----------------------------------------------------------------------------------
def test_toolkit_tools_and_schemas() -> None:
    kit = AudioToolkit()
    tools = kit.get_tools()
    assert [t.name for t in tools] == ["open_audio", "transcribe_audio", "ask_audio", "search_audio",
                                       "extract_from_audio", "list_audio_sessions", "close_audio_session",
                                       "search_library", "start_live_session", "append_audio",
                                       "finish_live_session", "list_speakers", "list_events", "name_speaker", "enroll_voice",
                                       "list_voices", "forget_voice", "store_vocabulary"]
    assert [type(t) for t in tools] == list(TOOL_CLASSES)
    for tool in tools:
        assert tool.response_format == "content_and_artifact" and tool.handle_tool_error is True
        assert tool.store is kit.store and len(tool.description) > 60
        for name, field in tool.args_schema.model_fields.items():
            assert field.description and len(field.description) > 15, (tool.name, name)
    with pytest.raises(KeyError):
        kit.get_tool("play_audio")
    assert kit.get_tool("search_audio").args_schema.model_json_schema()["properties"]["k"]["maximum"] == 100


def test_default_store_is_a_temporary_folder_removed_with_the_toolkit() -> None:
    kit = AudioToolkit()
    root = kit.store.root
    assert root.is_dir() and root.name.startswith("aero-langchain-")
    del kit
    gc.collect()
    assert not root.exists()


def test_given_store_and_a_different_reasoner_conflict(tmp_path: Path) -> None:
    store = SessionStore(tmp_path, reasoner=ScriptedChatModel(steps=["a"]))
    with pytest.raises(ValueError, match="another reasoner"):
        AudioToolkit(store=store, reasoner=ScriptedChatModel(steps=["b"]))
    assert AudioToolkit(store=store, reasoner=store.reasoner).store is store
    assert AudioToolkit(store=store).reasoner is store.reasoner


def test_reasoner_is_passed_to_transcript_only_sessions(engine) -> None:
    """With a reasoner chat model the transcript-only engine's sessions answer and extract through it."""
    reasoner = ScriptedChatModel(steps=[
        "Her name is Abigail Claflin; she goes by Abbie.",
        AIMessage(content="", tool_calls=[{"name": "result", "id": "r1",
                                           "args": {"names": ["Abigail Claflin", "Abbie"]}}]),
    ])
    kit = AudioToolkit(engine=engine, allowed_dirs=[DATA_DIR], reasoner=reasoner)
    tools = tools_of(kit)
    opened = tools["open_audio"].invoke(call("open_audio", path=example_path("ami-short").name))
    assert "only transcribes" not in opened.content
    sid = opened.artifact["id"]

    answer = tools["ask_audio"].invoke(call("ask_audio", session_id=sid, question="What is her name?"))
    assert answer.artifact["method"] == "reasoner" and "Abbie" in answer.content
    assert "Evidence:" not in answer.content or re.search(r"\[00:0\d-00:0\d\]", answer.content)

    schema = {"type": "object", "properties": {"names": {"type": "array", "items": {"type": "string"}}},
              "required": ["names"]}  # no title: the core names it "result" for with_structured_output
    extraction = tools["extract_from_audio"].invoke(
        call("extract_from_audio", session_id=sid, instruction="List the names.", json_schema=schema))
    assert extraction.status == "success", extraction.content
    assert extraction.artifact["data"] == {"names": ["Abigail Claflin", "Abbie"]}
    assert extraction.artifact["method"] == "reasoner" and '"Abbie"' in extraction.content
    kit.store.shutdown()


def test_open_without_waiting_reports_progress(engine) -> None:
    kit = AudioToolkit(engine=engine, allowed_dirs=[DATA_DIR], wait=False)
    tools = tools_of(kit)
    opened = tools["open_audio"].invoke(call("open_audio", path=example_path("ami-short").name))
    assert opened.status == "success" and opened.artifact["status"] in {"encoding", "ready"}
    sid = opened.artifact["id"]
    listed = tools["list_audio_sessions"].invoke(call("list_audio_sessions"))
    assert sid in listed.content
    assert kit.store.wait(sid, timeout=120).status == "ready"
    text = tools["transcribe_audio"].invoke(call("transcribe_audio", session_id=sid))
    assert "abigail" in text.content.lower() and "partial" not in text.content
    assert "ready" in tools["list_audio_sessions"].invoke(call("list_audio_sessions")).content
    kit.store.shutdown()


def test_open_reuses_the_open_session_of_a_file_unless_told_not_to(engine) -> None:
    kit = AudioToolkit(engine=engine, allowed_dirs=[DATA_DIR])
    open_audio = tools_of(kit)["open_audio"]
    first = open_audio.invoke(call("open_audio", path=example_path("ami-short").name))
    again = open_audio.invoke(call("open_audio", path=str(example_path("ami-short"))))  # same file, other spelling
    assert first.artifact["reused"] is False and again.artifact["reused"] is True
    assert again.artifact["id"] == first.artifact["id"] and "Reused session" in again.content
    fresh = open_audio.invoke(call("open_audio", path=example_path("ami-short").name, reuse=False))
    assert fresh.status == "success" and fresh.artifact["reused"] is False
    assert fresh.artifact["id"] != first.artifact["id"] and len(kit.store.list()) == 2
    kit.store.shutdown()


# ----- long output ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["text", "srt", "vtt", "json"])
def test_long_transcripts_are_cut_at_a_segment(fmt: str) -> None:
    transcript = Transcript(segments=[Segment(start=i * 2.0, end=i * 2.0 + 1.5, text=f"sentence number {i} here")
                                      for i in range(300)], duration_s=600.0)
    text, shown = cap_transcript(transcript, fmt, 1_000)
    assert len(text) <= 1_000 and 1 <= len(shown.segments) < 300
    assert text == transcript.model_copy(update={"segments": shown.segments}).render(fmt)
    longer = transcript.model_copy(update={"segments": transcript.segments[:len(shown.segments) + 1]})
    assert len(longer.render(fmt)) > 1_000  # the largest prefix that fits
    whole, same = cap_transcript(transcript, fmt, 10**7)
    assert whole == transcript.render(fmt) and same is transcript
