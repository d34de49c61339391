"""``--reasoner provider:model`` in ``aero-agent`` and ``aero-mcp``: the name goes through LangChain's
``init_chat_model``, and ask/extract answer through the model it makes.

Providers here are not reachable offline, so the factory is replaced by one returning a scripted fake chat model
(the issue's "test it with a fake chat model"); the missing-package error is the real one from LangChain.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from langchain_aero import ScriptedChatModel
from langchain_core.messages import AIMessage

from aero_agent import cli
from aero_agent.data import example_path
from aero_agent.errors import ReasonerError
from aero_agent.reasoning import load_reasoner

ANSWER = "He asks you to ask what you can do for your country."
NAMES = AIMessage(content="", tool_calls=[{"name": "result", "id": "r1", "args": {"names": ["John F. Kennedy"]}}])
SCHEMA = {"type": "object", "properties": {"names": {"type": "array", "items": {"type": "string"}}},
          "required": ["names"]}


@pytest.fixture
def fake_provider(monkeypatch) -> list[tuple[str, str]]:
    """``init_chat_model`` making a fresh scripted chat model (answer, then extraction; model ``extractor``:
    extraction only); records what it was asked for."""
    import langchain.chat_models

    made: list[tuple[str, str]] = []

    def init_chat_model(model: str, *, model_provider: str, **options: Any) -> ScriptedChatModel:
        made.append((model_provider, model))
        return ScriptedChatModel(steps=[NAMES] if model == "extractor" else [ANSWER, NAMES])

    monkeypatch.setattr(langchain.chat_models, "init_chat_model", init_chat_model)
    return made


def test_reasoner_names_are_checked_and_a_missing_package_is_named() -> None:
    """Catches: a malformed name passed on (LangChain's long error instead of ours), or the ImportError of a
    missing provider package escaping as a crash."""
    for bad in ("llama3.1", "ollama:", ":llama3.1", ""):
        with pytest.raises(ReasonerError, match="provider:model"):
            load_reasoner(bad)
    with pytest.raises(ReasonerError, match="Unsupported provider"):
        load_reasoner("nosuchprovider:model")
    try:
        import langchain_ollama  # noqa: F401
    except ImportError:
        with pytest.raises(ReasonerError, match="ollama provider's package is not installed.*langchain-ollama"):
            load_reasoner("ollama:llama3.1")


def test_aero_agent_asks_and_extracts_through_the_reasoner(fake_provider, capsys) -> None:
    """Catches: --reasoner parsed but not given to the session (the answer would be transcript evidence and
    extraction refused), or provider and model swapped."""
    assert cli.main(["ask", "example:jfk", "What does he ask?", "--reasoner", "fake:model-1", "--json", "-q"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["method"] == "reasoner" and answer["text"] == ANSWER
    assert fake_provider == [("fake", "model-1")]
    assert cli.main(["extract", "example:jfk", "Who speaks?", "--schema", json.dumps(SCHEMA),
                     "--reasoner", "fake:extractor", "-q"]) == 0
    assert json.loads(capsys.readouterr().out) == {"names": ["John F. Kennedy"]}
    assert cli.main(["ask", "example:jfk", "What?", "--reasoner", "no-provider"]) == 2
    assert "provider:model" in capsys.readouterr().err


def test_aero_mcp_answers_through_the_reasoner(fake_provider, tmp_path: Path, monkeypatch, caplog) -> None:
    """The real ``aero-mcp`` entry point with --reasoner, its HTTP serving replaced by an in-process client on
    the server it built. Catches: the reasoner not reaching the store (method 'transcript-evidence', and
    extraction refused), and a bad name starting the server anyway."""
    from mcp import Client
    from mcp_driver import connect

    from aero_mcp import cli as mcp_cli

    monkeypatch.setattr(mcp_cli, "_setup_logging", lambda level: None)
    shutil.copy(example_path("jfk"), tmp_path / "jfk.wav")
    seen: dict[str, Any] = {}

    async def script(client: Client) -> None:
        sid = (await client.call_tool("open_audio", {"path": "jfk.wav", "wait_s": 50})
               ).structured_content["session_id"]
        seen["ask"] = (await client.call_tool("ask_audio", {"session_id": sid, "question": "What is asked?"}))
        seen["extract"] = await client.call_tool("extract_from_audio", {
            "session_id": sid, "instruction": "Who speaks?", "json_schema": SCHEMA})

    async def serve(server: Any, args: Any) -> None:
        await connect(server, script)

    monkeypatch.setattr(mcp_cli, "_serve_http", serve)
    assert mcp_cli.main(["--allow-dir", str(tmp_path), "--reasoner", "nothing"]) == 2
    assert "provider:model" in caplog.text and not fake_provider
    assert mcp_cli.main(["--transport", "streamable-http", "--allow-dir", str(tmp_path), "--store",
                         str(tmp_path / "store"), "--reasoner", "fake:model-2"]) == 0
    assert fake_provider == [("fake", "model-2")]
    asked = seen["ask"].structured_content
    assert asked["method"] == "reasoner" and asked["answer"] == ANSWER, seen["ask"]
    assert seen["extract"].structured_content["data"] == {"names": ["John F. Kennedy"]}
