"""A real LangChain agent loop over the audio tools, driven by a scripted fake chat model.

The model (``langchain_aero.ScriptedChatModel``, a ``GenericFakeChatModel`` whose ``bind_tools`` returns
itself) reads the tool results the agent feeds back, so it can carry the session id from turn to turn and
recover from the errors the tools report. The engine is the real embedded Whisper model.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_aero import AudioToolkit, ScriptedChatModel, last_tool_message, tool_call, tool_calls
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver

from aero_agent.data import DATA_DIR, example_path

CLIP = example_path("ami-short").name  # "I'm Abigail Claflin, you can call me Abbie", 6 s


def conversation_script(messages: list[Any]):
    """Five user turns on one session; two of them start with a bad call the model must recover from."""
    # turn 1: open and transcribe
    messages = yield tool_call("open_audio", path=CLIP)
    sid = last_tool_message(messages, "open_audio").artifact["id"]
    messages = yield tool_call("transcribe_audio", session_id=sid)
    yield f"The recording says: {last_tool_message(messages).content}"

    # turn 2: a range past the end of the audio; read the duration from the error and retry
    messages = yield tool_call("transcribe_audio", session_id=sid, start_s=20, end_s=30)
    error = last_tool_message(messages)
    assert error.status == "error"
    duration = float(re.search(r"\(0-([\d.]+) s\)", str(error.content)).group(1))
    messages = yield tool_call("transcribe_audio", session_id=sid, start_s=0, end_s=duration, format="srt")
    yield f"The audio is only {duration:g} s long. Here it is with times:\n{last_tool_message(messages).content}"

    # turn 3: a made-up session id; list the sessions, then ask on the real one
    messages = yield tool_call("ask_audio", session_id="s000000000000", question="What does the speaker call herself?")
    assert last_tool_message(messages).status == "error"
    messages = yield tool_call("list_audio_sessions")
    listed = [info["id"] for info in last_tool_message(messages).artifact]
    messages = yield tool_call("ask_audio", session_id=listed[0], question="What does the speaker call herself?")
    yield last_tool_message(messages).content

    # turn 4: a follow-up question, and a search in the same step (two tool calls run together)
    messages = yield tool_calls(("ask_audio", {"session_id": sid, "question": "And what can we call her?"}),
                                ("search_audio", {"session_id": sid, "query": "call me", "k": 2}))
    yield "She says you can call her by her short name."

    # turn 5: extraction is refused by the transcript-only engine: fall back to search, then close
    messages = yield tool_call("extract_from_audio", session_id=sid, instruction="List the names mentioned.",
                               json_schema={"type": "object", "properties": {"names": {"type": "array",
                                                                                         "items": {"type": "string"}}}})
    if last_tool_message(messages).status == "error":
        messages = yield tool_call("search_audio", session_id=sid, query="Abigail name")
    messages = yield tool_call("close_audio_session", session_id=sid)
    yield "Done: the names are in the passages above, and the session is closed."


USER_TURNS = [
    "Open the meeting recording and tell me what is said.",
    "Read me the part from 20 to 30 seconds.",
    "What does the speaker call herself?",
    "And what can we call her?",
    "Extract the names as JSON, then close the recording.",
]


@pytest.fixture
def toolkit(engine):
    kit = AudioToolkit(engine=engine, allowed_dirs=[DATA_DIR])
    yield kit
    kit.store.shutdown()


def _tool_messages(messages: list[Any]) -> list[ToolMessage]:
    return [m for m in messages if isinstance(m, ToolMessage)]


def test_agent_multi_turn_with_recovery(toolkit: AudioToolkit) -> None:
    model = ScriptedChatModel(script=conversation_script)
    agent = create_agent(model, toolkit.get_tools(), checkpointer=InMemorySaver(),
                         system_prompt="You answer questions about audio files with the audio tools.")
    config = {"configurable": {"thread_id": "meeting"}}

    replies: list[str] = []
    seen = 0
    per_turn: list[list[ToolMessage]] = []
    for text in USER_TURNS:
        state = agent.invoke({"messages": [HumanMessage(text)]}, config)
        new = state["messages"][seen:]
        seen = len(state["messages"])
        per_turn.append(_tool_messages(new))
        assert isinstance(new[-1], AIMessage) and not new[-1].tool_calls
        replies.append(str(new[-1].content))

    # turn 1: the real engine's transcript
    opened, transcript = per_turn[0]
    assert opened.status == "success" and opened.artifact["status"] == "ready"
    assert opened.artifact["duration_s"] == pytest.approx(6.0, abs=0.05)
    assert opened.artifact["engine"] == "whisper"
    sid = opened.artifact["id"]
    assert "abigail" in transcript.artifact["text"].lower()
    assert "abigail" in replies[0].lower()

    # turn 2: the out-of-range call is an error message, not an exception; the retry works
    bad_range, retry = per_turn[1]
    assert bad_range.status == "error" and "outside the audio" in bad_range.content
    assert retry.status == "success" and "-->" in retry.content  # SRT
    assert retry.artifact["segments"]

    # turn 3: unknown session -> actionable error -> list -> real answer
    unknown, listed, answer = per_turn[2]
    assert unknown.status == "error" and "unknown session id" in unknown.content
    assert "list_audio_sessions" in unknown.content
    assert [info["id"] for info in listed.artifact] == [sid]
    assert answer.status == "success" and answer.artifact["turn"] == 1
    assert answer.artifact["method"] == "transcript-evidence"
    assert any("abigail" in seg["text"].lower() for seg in answer.artifact["evidence"])
    assert "abigail" in answer.content.lower() and "cannot reason" in answer.content

    # turn 4: the follow-up is the session's second question; the parallel search found the phrase
    follow_up, hits = per_turn[3]
    assert follow_up.artifact["turn"] == 2 and follow_up.name == "ask_audio"
    assert hits.name == "search_audio" and "call me" in hits.artifact["hits"][0]["text"].lower()

    # turn 5: capability error, search fallback, close
    refused, fallback, closed = per_turn[4]
    assert refused.status == "error" and refused.artifact is None
    assert "only transcribes" in refused.content and "search" in refused.content
    assert fallback.status == "success" and fallback.artifact["hits"]
    assert closed.artifact == {"session_id": sid, "closed": True}
    assert toolkit.store.list() == []
    assert model.calls == 16  # 11 tool-calling steps and 5 replies: the agent ran the whole script


@pytest.mark.asyncio
async def test_agent_async_loop(toolkit: AudioToolkit) -> None:
    """The same tools through the agent's async path (tools run in worker threads)."""

    def script(messages: list[Any]):
        messages = yield tool_call("open_audio", path=CLIP)
        sid = last_tool_message(messages).artifact["id"]
        messages = yield tool_call("search_audio", session_id=sid, query="Abigail")
        yield last_tool_message(messages).content

    agent = create_agent(ScriptedChatModel(script=script), toolkit.get_tools())
    state = await agent.ainvoke({"messages": [HumanMessage("Where is Abigail named?")]})
    opened, hits = _tool_messages(state["messages"])
    assert opened.status == hits.status == "success"
    assert "abigail" in hits.artifact["hits"][0]["text"].lower()
    assert "abigail" in str(state["messages"][-1].content).lower()
