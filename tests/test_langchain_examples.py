"""The LangChain examples run: the offline scripted agent (with its fallback, and with a reasoner) and the
real-model agent's setup messages and conversation loop."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from langchain_aero import AudioToolkit, ScriptedChatModel, last_tool_message, tool_call
from langchain_core.messages import AIMessage

from aero_agent.data import DATA_DIR, example_path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def scripted() -> ModuleType:
    return load_example("langchain_scripted_agent")


@pytest.fixture(scope="module")
def real_agent() -> ModuleType:
    return load_example("langchain_agent")


def test_scripted_demo_offline_falls_back_to_search(scripted, engine, capsys) -> None:
    # ``engine`` first: the example's default engine is then the one already loaded
    assert scripted.main(["--clip", "jfk"]) == 0
    out = capsys.readouterr().out
    for turn in range(1, 6):
        assert f"=== turn {turn} ===" in out
    assert "ask not what your country can do for you" in out.lower()
    assert "-> extract_from_audio(" in out and "<- [ERROR] Error: the whisper engine" in out
    after_error = out.split("<- [ERROR]", 1)[1]
    assert "-> search_audio(" in after_error and "ask what you can do for your country" in after_error.lower()
    assert "cannot extract structured data" in after_error


def test_scripted_demo_extracts_with_a_reasoner(scripted, engine) -> None:
    reasoner = ScriptedChatModel(steps=[
        "She introduces herself as Abigail Claflin.",
        "Abbie.",
        AIMessage(content="", tool_calls=[{"name": "action_items", "id": "r1",
                                           "args": {"action_items": ["Call her Abbie"]}}]),
    ])
    kit = AudioToolkit(engine=engine, allowed_dirs=[DATA_DIR], reasoner=reasoner)
    lines: list[str] = []
    logs = scripted.run_conversation(kit, example_path("ami-short"), scripted.PLANS["ami-short"], out=lines.append)
    assert len(logs) == 5
    assert [m.name for m in logs[0].tool_messages] == ["open_audio", "transcribe_audio"]
    assert "abigail" in logs[0].reply.lower()
    assert logs[2].reply == "She introduces herself as Abigail Claflin." and logs[3].reply == "Abbie."
    assert logs[3].tool_messages[0].artifact["turn"] == 2  # the follow-up is the session's second question
    extraction = logs[4].tool_messages
    assert [m.name for m in extraction] == ["extract_from_audio"] and extraction[0].status == "success"
    assert extraction[0].artifact["data"] == {"action_items": ["Call her Abbie"]}
    assert logs[4].reply == "Action items:\n- Call her Abbie"
    kit.store.shutdown()


def test_real_agent_without_a_provider_says_what_to_set(real_agent, monkeypatch, capsys) -> None:
    monkeypatch.delenv("AERO_CHAT_MODEL", raising=False)
    assert real_agent.main([]) == 2
    err = capsys.readouterr().err
    assert "AERO_CHAT_MODEL" in err and "openai:gpt-4o-mini" in err and "langchain_scripted_agent.py" in err

    monkeypatch.setenv("AERO_CHAT_MODEL", "nosuchprovider:model-x")
    assert real_agent.main([]) == 2
    assert "nosuchprovider:model-x" in capsys.readouterr().err


def test_real_agent_reports_a_missing_provider_package(real_agent, monkeypatch, capsys) -> None:
    if importlib.util.find_spec("langchain_openai") is not None:
        pytest.skip("langchain-openai is installed here")
    monkeypatch.setenv("AERO_CHAT_MODEL", "openai:gpt-4o-mini")
    assert real_agent.main([]) == 2
    assert "pip install langchain-openai" in capsys.readouterr().err


def test_real_agent_conversation_loop(real_agent, engine, capsys) -> None:
    """The real-model example's loop, with a scripted model in place of the provider."""

    def script(messages):
        path = str(messages[-1].content).split(" at ", 1)[1].split(" and tell", 1)[0]
        assert Path(path).name == "jfk_inaugural_1961.wav"
        messages = yield tool_call("list_audio_sessions")
        yield f"{last_tool_message(messages).content} (I would open {Path(path).name} now.)"
        messages = yield tool_call("search_audio", session_id="s000000000000", query="country")
        yield "That session does not exist: " + str(last_tool_message(messages).content)

    kit = AudioToolkit(engine=engine, allowed_dirs=[DATA_DIR])
    code = real_agent.main(["--ask", "Search for country."], model=ScriptedChatModel(script=script), toolkit=kit)
    assert code == 0
    out = capsys.readouterr().out
    assert "=== turn 1 ===" in out and "=== turn 2 === user: Search for country." in out
    assert "No audio sessions are open" in out and "<- [ERROR] Error: unknown session id" in out
