"""search_library and session tags through the skins: a real MCP client and the LangChain tool."""

from __future__ import annotations

from pathlib import Path

from mcp import Client

from aero_agent.data import example_path
from aero_agent.store import SessionStore
from langchain_aero import SearchLibraryTool
from test_mcp_server import drive, folders, make_server, text_of  # noqa: F401  (fixture re-exported)


def test_mcp_search_library_finds_the_right_recording(engine, folders):  # noqa: F811
    """Catches search_library not declared read-only, hits without their session, or the session filter and
    tags missing from list_audio_sessions."""

    async def script(client: Client) -> None:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert tools["search_library"].annotations.read_only_hint is True
        jfk = (await client.call_tool("open_audio", {"path": "jfk.wav", "wait_s": 50})).structured_content
        meeting = (await client.call_tool("open_audio", {"path": "meeting.wav", "wait_s": 50})).structured_content
        found = await client.call_tool("search_library", {"query": "duties a citizen owes the nation", "k": 2})
        assert not found.is_error, text_of(found)
        hits = found.structured_content["hits"]
        assert hits[0]["session_id"] == jfk["session_id"] and hits[0]["source"].endswith("jfk.wav")
        assert "jfk.wav" in text_of(found) and found.structured_content["sessions_searched"] == 2
        only = await client.call_tool("search_library", {"query": "duties a citizen owes the nation",
                                                         "session_ids": [meeting["session_id"]]})
        assert all(h["session_id"] == meeting["session_id"] for h in only.structured_content["hits"])
        bad = await client.call_tool("search_library", {"query": "anything", "session_ids": ["s000000000000"]})
        assert bad.is_error and "list_audio_sessions" in text_of(bad)
        listed = (await client.call_tool("list_audio_sessions", {})).structured_content["sessions"]
        assert all(s["tags"] for s in listed) and all(s["gist"] for s in listed)

    drive(make_server(engine, folders), script)


def test_langchain_search_library(engine, tmp_path: Path):
    """Catches the LangChain tool not reaching the library search, or hits without session and source."""
    store = SessionStore(tmp_path / "store", engine=engine)
    try:
        jfk = store.open(example_path("jfk"))
        store.open(example_path("ami-short"))
        tool = SearchLibraryTool(store=store)
        message = tool.invoke({"type": "tool_call", "id": "1", "name": "search_library",
                               "args": {"query": "duties a citizen owes the nation", "k": 2}})
        assert message.artifact["hits"][0]["session_id"] == jfk.id
        assert "jfk_inaugural_1961.wav" in message.content
    finally:
        store.shutdown()


def test_speaker_and_time_filters_reach_the_session(engine, folders):  # noqa: F811
    """Catches search_audio's start_s/end_s or speaker not passed to the session: a range that excludes the
    speech finds nothing, and a speaker the recording lacks is refused with the known speakers."""

    async def script(client: Client) -> None:
        sid = (await client.call_tool("open_audio", {"path": "jfk.wav", "wait_s": 50})).structured_content["session_id"]
        hits = await client.call_tool("search_audio", {"session_id": sid, "query": "ask what you can do"})
        assert hits.structured_content["hits"]
        late = await client.call_tool("search_audio", {"session_id": sid, "query": "ask what you can do",
                                                       "start_s": 10.9, "end_s": 11.0})
        assert all(h["end"] > 10.9 for h in late.structured_content["hits"])
        early = await client.call_tool("search_audio", {"session_id": sid, "query": "fellow Americans",
                                                        "end_s": 0.5})
        assert all(h["start"] < 0.5 for h in early.structured_content["hits"])
        who = await client.call_tool("ask_audio", {"session_id": sid, "question": "what should we ask",
                                                   "speaker": "SPEAKER_07"})
        assert who.is_error and "SPEAKER_07" in text_of(who)

    drive(make_server(engine, folders), script)
