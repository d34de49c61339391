"""The aero-mcp server in process with ``mcp.Client``: tools, resources, prompts, bad input, restart.

Real Whisper engine (the session-scoped ``engine`` fixture) and short real clips. Each test drives its
server through the MCP client, so arguments and results go through the SDK's validation and conversion.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from aero_agent.data import EXAMPLE_TEXT, example_path
from holding_engine import HoldingEngine
from mcp_driver import drive
from speech_data import speech_file

from aero_mcp import ServerConfig, create_server


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    """An allowed folder with real clips and traps, a folder outside it, and a store folder."""
    audio, outside = tmp_path / "audio", tmp_path / "outside"
    audio.mkdir()
    outside.mkdir()
    shutil.copy(example_path("jfk"), audio / "jfk.wav")
    shutil.copy(example_path("ami-short"), audio / "meeting.wav")
    shutil.copy(example_path("ami-short"), outside / "secret.wav")
    (audio / "escape.wav").symlink_to(outside / "secret.wav")
    data = example_path("jfk").read_bytes()
    (audio / "truncated.wav").write_bytes(data[:4000])  # header promises far more samples than are there
    (audio / "notes.wav").write_text("these are meeting notes, not audio\n" * 50)
    (audio / "empty.wav").write_bytes(b"")
    (audio / "folder.wav").mkdir()
    return {"audio": audio, "outside": outside, "store": tmp_path / "store"}


def make_server(engine: Any, folders: dict[str, Path], **options: Any):
    config = ServerConfig(allow_dirs=[folders["audio"]], store_dir=folders["store"], **options)
    return create_server(config, engine=engine)


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def words(text: str) -> str:
    """Lower-case words without punctuation; a hyphen separates words ("old-beer" reads "old beer")."""
    return "".join(c for c in text.lower().replace("-", " ") if c.isalnum() or c == " ")


# ----- discovery ----------------------------------------------------------------------------------------------
def test_tools_resources_and_prompts_are_declared(engine, folders):
    async def script(client: Client) -> None:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == {"open_audio", "session_status", "transcribe_audio", "ask_audio", "search_audio",
                              "extract_from_audio", "list_audio_sessions", "close_audio_session", "search_library",
                              "start_live_session", "append_audio", "finish_live_session", "list_speakers",
                              "start_upload", "append_upload", "finish_upload", "list_events",
                              "name_speaker", "enroll_voice", "list_voices", "forget_voice", "store_vocabulary"}
        for tool in tools.values():
            assert tool.description and tool.output_schema and tool.annotations is not None
            assert tool.output_schema["type"] == "object"
        read_only = {n for n, t in tools.items() if t.annotations.read_only_hint}
        assert read_only == {"session_status", "transcribe_audio", "search_audio", "list_audio_sessions",
                             "search_library", "list_speakers", "list_events", "list_voices"}
        assert tools["close_audio_session"].annotations.destructive_hint is True
        assert tools["forget_voice"].annotations.destructive_hint is True
        assert tools["open_audio"].input_schema.get("required", []) == []  # a path or audio_base64
        assert tools["ask_audio"].input_schema["properties"]["question"]["maxLength"] == 8000

        resources = [str(r.uri) for r in (await client.list_resources()).resources]
        assert resources == ["audio://sessions"]
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert {"audio://sessions/{session_id}/transcript", "audio://sessions/{session_id}/transcript.srt",
                "audio://sessions/{session_id}/transcript.vtt", "audio://sessions/{session_id}/history"} <= templates
        prompts = {p.name for p in (await client.list_prompts()).prompts}
        assert {"meeting_minutes", "action_items", "summarize_recording", "find_moments", "subtitles"} <= prompts

    drive(make_server(engine, folders), script)


# ----- a whole session over many turns ------------------------------------------------------------------------
def test_multi_turn_session(engine, folders):
    async def script(client: Client) -> None:
        opened = await client.call_tool("open_audio", {"path": "jfk.wav", "wait_s": 50})  # ready even on a busy box
        assert not opened.is_error, text_of(opened)
        info = opened.structured_content
        sid = info["session_id"]
        assert info["status"] == "ready" and info["progress"] == 1.0 and info["reused"] is False
        assert info["source"] == str((folders["audio"] / "jfk.wav").resolve())
        assert sid in text_of(opened) and "Ready" in text_of(opened)

        again = await client.call_tool("open_audio", {"path": str(folders["audio"] / "jfk.wav")})
        assert again.structured_content["session_id"] == sid and again.structured_content["reused"] is True

        status = await client.call_tool("session_status", {"session_id": sid})
        assert status.structured_content["status"] == "ready" and status.structured_content["turns"] == 0

        plain = await client.call_tool("transcribe_audio", {"session_id": sid})
        t = plain.structured_content
        assert t["complete"] is True and t["truncated"] is False and t["segments"]
        assert "ask not what your country can do for you" in words(t["text"])
        assert words(EXAMPLE_TEXT["jfk"])[:30] in words(text_of(plain))

        srt = await client.call_tool("transcribe_audio", {"session_id": sid, "format": "srt"})
        assert srt.structured_content["text"].startswith("1\n00:00:0") and " --> " in srt.structured_content["text"]
        vtt = await client.call_tool("transcribe_audio", {"session_id": sid, "format": "vtt", "start_s": 5.0})
        assert vtt.structured_content["text"].startswith("WEBVTT")
        assert all(s["end"] > 5.0 for s in vtt.structured_content["segments"])

        first = await client.call_tool("ask_audio", {"session_id": sid, "question": "What should you ask?"})
        a = first.structured_content
        assert not first.is_error and a["turn"] == 1 and a["complete"] is True
        assert a["method"] == "transcript-evidence" and "country" in a["answer"].lower()
        follow = await client.call_tool("ask_audio", {"session_id": sid, "question": "And who is addressed?"})
        assert follow.structured_content["turn"] == 2

        hits = await client.call_tool("search_audio", {"session_id": sid, "query": "country", "k": 2})
        h = hits.structured_content
        assert 1 <= len(h["hits"]) <= 2 and "country" in h["hits"][0]["text"].lower() and h["complete"] is True

        extract = await client.call_tool("extract_from_audio", {
            "session_id": sid, "instruction": "The requests made to the audience",
            "json_schema": {"type": "object", "properties": {"requests": {"type": "array"}}}})
        assert extract.is_error
        assert "only transcribes" in text_of(extract) and "engine 'aero'" in text_of(extract)

        listed = await client.call_tool("list_audio_sessions", {})
        assert [s["session_id"] for s in listed.structured_content["sessions"]] == [sid]
        assert listed.structured_content["sessions"][0]["turns"] == 2

        srt_res = await client.read_resource(f"audio://sessions/{sid}/transcript.srt")
        assert srt_res.contents[0].text == srt.structured_content["text"]
        vtt_res = await client.read_resource(f"audio://sessions/{sid}/transcript.vtt")
        assert vtt_res.contents[0].text.startswith("WEBVTT") and vtt_res.contents[0].mime_type == "text/vtt"
        text_res = await client.read_resource(f"audio://sessions/{sid}/transcript")
        assert "ask not what your country" in words(text_res.contents[0].text)
        history = json.loads((await client.read_resource(f"audio://sessions/{sid}/history")).contents[0].text)
        assert [(h["role"], h["kind"]) for h in history] == [("user", "ask"), ("assistant", "ask")] * 2
        sessions = json.loads((await client.read_resource("audio://sessions")).contents[0].text)
        assert sessions["sessions"][0]["session_id"] == sid

        prompt = await client.get_prompt("meeting_minutes", {"audio": sid})
        assert sid in prompt.messages[0].content.text and "Action items" in prompt.messages[0].content.text
        assert "ask not what your country" in words(prompt.messages[1].content.resource.text)
        by_path = await client.get_prompt("action_items", {"audio": "meeting.wav"})
        assert 'open_audio with path="meeting.wav"' in by_path.messages[0].content.text

        closed = await client.call_tool("close_audio_session", {"session_id": sid})
        assert closed.structured_content["closed"] is True
        gone = await client.call_tool("session_status", {"session_id": sid})
        assert gone.is_error and "list_audio_sessions" in text_of(gone)

    drive(make_server(engine, folders), script)


# ----- bad input through the protocol --------------------------------------------------------------------------
BAD_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("open_audio", {"path": "missing.wav"}, "no such file"),
    ("open_audio", {"path": "/etc/passwd"}, "outside the allowed folders"),
    ("open_audio", {"path": "../outside/secret.wav"}, "outside the allowed folders"),
    ("open_audio", {"path": "escape.wav"}, "outside the allowed folders"),  # symlink pointing out
    ("open_audio", {"path": "truncated.wav"}, "truncated"),
    ("open_audio", {"path": "notes.wav"}, "cannot be used as audio"),
    ("open_audio", {"path": "empty.wav"}, "empty"),
    ("open_audio", {"path": "folder.wav"}, "not a regular file"),
    ("open_audio", {"path": "a\x00b.wav"}, "invalid path"),
    ("open_audio", {"path": 123}, "valid string"),
    ("open_audio", {}, "path"),
    ("open_audio", {"path": "x" * 100_000}, "at most 4096"),
    ("session_status", {"session_id": "s000000000000"}, "unknown session"),
    ("session_status", {"session_id": "../../etc/passwd"}, "unknown session"),
    ("session_status", {"session_id": ["a", "b"]}, "valid string"),
    ("transcribe_audio", {"session_id": "nope", "format": "mp3"}, "format"),
    ("search_audio", {"session_id": "nope", "query": "q", "k": "many"}, "valid integer"),
    ("search_audio", {"session_id": "nope", "query": "q", "k": 10_000}, "less than or equal"),
    ("ask_audio", {"session_id": "nope", "question": None}, "valid string"),
    ("ask_audio", {"session_id": "nope", "question": "q" * 1_000_000}, "at most 8000"),
    ("ask_audio", {"session_id": "nope", "question": "where?"}, "unknown session"),
    ("extract_from_audio", {"session_id": "nope", "instruction": "x", "json_schema": "not json"}, "json_schema"),
    ("close_audio_session", {"session_id": "nope"}, "unknown session"),
    ("no_such_tool", {}, "no_such_tool"),
]


def test_bad_input_is_an_error_result_and_the_server_keeps_serving(engine, folders):
    async def script(client: Client) -> None:
        for name, args, expected in BAD_CALLS:
            result = await client.call_tool(name, args)
            assert result.is_error, (name, args)
            assert expected.lower() in text_of(result).lower(), (name, text_of(result)[:300])
            assert "Error executing tool" in text_of(result) or name == "no_such_tool"
        # time ranges and schemas on a real session
        sid = (await client.call_tool("open_audio", {"path": "meeting.wav"})).structured_content["session_id"]
        for name, args, expected in [
            ("transcribe_audio", {"session_id": sid, "start_s": 1000}, "outside the audio"),
            ("transcribe_audio", {"session_id": sid, "start_s": 4, "end_s": 2}, "outside the audio"),
            ("transcribe_audio", {"session_id": sid, "start_s": -1}, "greater than or equal"),
            ("search_audio", {"session_id": sid, "query": "   "}, "non-empty"),
            ("extract_from_audio", {"session_id": sid, "instruction": "x", "json_schema": {"type": 12}},
             "invalid json schema"),
            ("extract_from_audio", {"session_id": sid, "instruction": "x",
                                    "json_schema": {"properties": {f"p{i}": {"type": "string"} for i in range(2000)}}},
             "over 20000"),
        ]:
            result = await client.call_tool(name, args)
            assert result.is_error and expected.lower() in text_of(result).lower(), (args, text_of(result)[:300])
        # a wait_s beyond the cap is capped, not refused
        capped = await client.call_tool("session_status", {"session_id": sid, "wait_s": 10_000})
        assert not capped.is_error and capped.structured_content["status"] == "ready"
        listed = await client.call_tool("list_audio_sessions", {})
        assert [s["session_id"] for s in listed.structured_content["sessions"]] == [sid]

    drive(make_server(engine, folders), script)


def test_unknown_session_resource_is_a_protocol_error(engine, folders):
    from mcp import MCPError

    async def script(client: Client) -> None:
        with pytest.raises(MCPError, match="unknown session"):
            await client.read_resource("audio://sessions/snothere0000/transcript.srt")
        assert (await client.list_resources()).resources  # still serving

    drive(make_server(engine, folders), script)


# ----- long audio: background encoding, partial results, progress ------------------------------------------
def test_long_audio_returns_at_once_and_reports_progress(engine, folders, monkeypatch):
    """Catches a partial transcript forced empty, a partial ask not flagged, and open waiting for the encoding.

    With a short-audio threshold of 1 s every clip counts as long: open returns while it encodes. The sonnet
    (two windows, batches of one) is held after its first batch, so the partial results must hold text."""
    monkeypatch.setattr(engine, "batch_size", 1)
    holding = HoldingEngine(engine)
    shutil.copy(example_path("sonnet"), folders["audio"] / "sonnet.wav")
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    async def script(client: Client) -> None:
        with anyio.fail_after(15):  # decode only: must not wait for the encoding
            opened = await client.call_tool("open_audio", {"path": "sonnet.wav"})
        o = opened.structured_content
        assert not opened.is_error and o["status"] == "encoding" and o["progress"] < 1.0
        assert "Encoding in the background" in text_of(opened)
        sid = o["session_id"]
        with anyio.fail_after(120):
            while not holding.held.is_set():
                await anyio.sleep(0.1)
        try:
            partial = await client.call_tool("transcribe_audio", {"session_id": sid})
            p = partial.structured_content
            assert p["complete"] is False and "Encoding is" in p["message"] and "partial, encoding" in text_of(partial)
            assert p["segments"] and "fairest creatures" in words(p["text"])
            assert all(s["end"] <= 30.0 for s in p["segments"])
            asked = await client.call_tool("ask_audio", {"session_id": sid, "question": "beauty's rose"})
            a = asked.structured_content
            assert not asked.is_error and a["turn"] == 1 and a["complete"] is False
            assert a["evidence"] and "rose" in a["evidence"][0]["text"].lower()
        finally:
            holding.release.set()

        status = await client.call_tool("session_status", {"session_id": sid, "wait_s": 50},
                                        progress_callback=on_progress)
        assert status.structured_content["status"] == "ready", text_of(status)
        assert progress and progress[-1][0] == 100.0 and all(total == 100 for _, total, _ in progress)
        assert [v for v, _, _ in progress] == sorted(v for v, _, _ in progress)

        full = (await client.call_tool("transcribe_audio", {"session_id": sid})).structured_content
        assert full["complete"] is True and len(full["segments"]) > len(p["segments"])
        assert "glutton" in words(full["text"])

    drive(make_server(holding, folders, short_audio_s=1.0), script)


def test_long_transcript_is_cut_and_continued(engine, folders):
    """Catches a cut that splits or drops segments: the parts of a cut transcript add up to the whole."""
    harvard = speech_file("realpython_harvard.wav")  # 18 s, six sentences; skips without ../shared/speech
    shutil.copy(harvard, folders["audio"] / "harvard.wav")

    async def script(client: Client) -> None:
        opened = (await client.call_tool("open_audio", {"path": "harvard.wav", "wait_s": 50})).structured_content
        sid = opened["session_id"]
        assert opened["status"] == "ready"
        full = (await client.call_tool("transcribe_audio", {"session_id": sid})).structured_content
        assert "stale smell of old beer" in words(full["text"])
        cut = (await client.call_tool("transcribe_audio", {"session_id": sid, "max_chars": 200})).structured_content
        assert cut["truncated"] is True and f"start_s={cut['next_start_s']:g}" in cut["message"]
        assert 1 <= len(cut["segments"]) < len(full["segments"])
        rest = (await client.call_tool("transcribe_audio", {"session_id": sid, "start_s": cut["next_start_s"],
                                                            "max_chars": 100_000})).structured_content
        assert cut["segments"] + rest["segments"] == full["segments"] and rest["truncated"] is False

    drive(make_server(engine, folders, short_audio_s=1.0), script)


def test_cut_keeps_whole_segments():
    """transcribe_audio cuts with the core's Transcript.head (exact rendered length, in the asked format)."""
    from aero_agent.transcript import Segment, Transcript

    t = Transcript(segments=[Segment(start=i, end=i + 1, text="x" * 60) for i in range(10)], duration_s=10)
    _, next_start, shown = t.head(300, "srt")
    assert len(shown.segments) == 3 and next_start == 3
    assert t.head(10_000, "srt")[1:] == (None, t)
    assert len(t.head(1, "srt").shown.segments) == 1  # always at least one segment


# ----- persistence ----------------------------------------------------------------------------------------------
def test_sessions_and_history_survive_a_restart(engine, folders):
    async def first_run(client: Client) -> str:
        sid = (await client.call_tool("open_audio", {"path": "meeting.wav", "wait_s": 50})
               ).structured_content["session_id"]
        await client.call_tool("ask_audio", {"session_id": sid, "question": "What is her name?"})
        await client.call_tool("ask_audio", {"session_id": sid, "question": "What can you call her?"})
        return sid

    sid = drive(make_server(engine, folders), first_run)

    async def second_run(client: Client) -> None:
        listed = (await client.call_tool("list_audio_sessions", {})).structured_content
        assert [s["session_id"] for s in listed["sessions"]] == [sid] and listed["interrupted"] == []
        assert listed["sessions"][0]["status"] == "ready" and listed["sessions"][0]["turns"] == 2
        history = json.loads((await client.read_resource(f"audio://sessions/{sid}/history")).contents[0].text)
        assert [h["content"] for h in history if h["role"] == "user"] == ["What is her name?",
                                                                          "What can you call her?"]
        transcript = (await client.call_tool("transcribe_audio", {"session_id": sid})).structured_content
        assert "abigail" in transcript["text"].lower() or "call me" in transcript["text"].lower()
        third = (await client.call_tool("ask_audio", {"session_id": sid, "question": "Anything else?"}))
        assert third.structured_content["turn"] == 3
        reopened = (await client.call_tool("open_audio", {"path": "meeting.wav"})).structured_content
        assert reopened["session_id"] == sid and reopened["reused"] is True

    # the second start loads its engine in the background, as the command line does
    config = ServerConfig(allow_dirs=[folders["audio"]], store_dir=folders["store"])
    drive(create_server(config), second_run)


def test_stopping_cancels_a_running_encoding(engine, folders):
    """Backend.close (what the command line calls on exit) cancels an encoding instead of waiting for it; the
    session is then reported as interrupted by the stop."""
    shutil.copy(example_path("sonnet"), folders["audio"] / "long.wav")  # 53 s
    server = make_server(engine, folders)

    async def script(client: Client) -> str:
        opened = await client.call_tool("open_audio", {"path": "long.wav", "wait_s": 0})
        assert opened.structured_content["status"] == "encoding", text_of(opened)
        return opened.structured_content["session_id"]

    sid = drive(server, script, close=False)
    assert server.backend.close(grace_s=60) is True
    restarted = make_server(engine, folders)

    async def after(client: Client) -> None:
        status = await client.call_tool("session_status", {"session_id": sid})
        assert status.structured_content["status"] == "failed" and status.structured_content["interrupted"] is True
        assert "server stopped while this session was encoding" in text_of(status)
        again = await client.call_tool("open_audio", {"path": "long.wav", "wait_s": 0})
        assert again.structured_content["reused"] is False  # a cancelled session is not reused

    drive(restarted, after)


def test_an_engine_that_cannot_load_is_reported_to_every_call(folders):
    config = ServerConfig(allow_dirs=[folders["audio"]], store_dir=folders["store"], engine="aero", model=None)

    async def script(client: Client) -> None:
        for name, args in [("open_audio", {"path": "jfk.wav"}), ("list_audio_sessions", {})]:
            result = await client.call_tool(name, args)
            assert result.is_error and "EngineUnavailable" in text_of(result) and "--model" in text_of(result)

    drive(create_server(config), script)


def test_calls_stop_waiting_at_their_deadline(folders):
    """A core call that outlives the call's budget returns 'still working' instead of blocking the client."""
    import time

    from aero_mcp.backend import Backend, UserError

    backend = Backend(ServerConfig(allow_dirs=[folders["audio"]], store_dir=folders["store"], call_timeout_s=0.5,
                                   max_wait_s=2.0))

    async def main() -> None:
        start = anyio.current_time()
        deadline = backend.deadline()
        assert deadline - start == pytest.approx(0.5, abs=0.05)
        assert backend.deadline(wait_s=1_000) - anyio.current_time() == pytest.approx(2.0, abs=0.05)  # capped
        with pytest.raises(UserError, match="StillWorking: sleeping is taking longer"):
            await backend.run(time.sleep, 3, deadline=deadline, what="sleeping")
        assert anyio.current_time() - start < 1.5
        assert await backend.run(sum, [1, 2]) == 3

    anyio.run(main)


def test_an_answer_capable_engine_answers_and_extracts_through_the_same_tools(folders, tmp_path):
    """The server is engine-agnostic: a tiny random Aero checkpoint answers (method 'engine') and extraction
    reaches the engine; its random output fails validation, which comes back as an actionable error."""
    aero_tiny = pytest.importorskip("aero_tiny")
    from aero_agent.engines import load_engine

    engine = load_engine("aero", str(aero_tiny.write_tiny_checkpoint(tmp_path / "aero-tiny")))

    async def script(client: Client) -> None:
        opened = (await client.call_tool("open_audio", {"path": "meeting.wav", "wait_s": 50})).structured_content
        assert opened["status"] == "ready" and opened["engine"] == "aero"
        sid = opened["session_id"]
        answer = await client.call_tool("ask_audio", {"session_id": sid, "question": "Who speaks?"})
        assert not answer.is_error and answer.structured_content["method"] == "engine"
        assert answer.structured_content["turn"] == 1
        extraction = await client.call_tool("extract_from_audio", {
            "session_id": sid, "instruction": "The names said.",
            "json_schema": {"type": "object", "properties": {"names": {"type": "array"}}, "required": ["names"]}})
        if extraction.is_error:
            assert "Extraction" in text_of(extraction) and "structured output" in text_of(extraction)
        else:
            assert "names" in extraction.structured_content["data"]

    drive(make_server(engine, folders), script)
