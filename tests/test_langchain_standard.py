"""langchain-tests standard unit and integration tests for every audio tool, on the real engine.

The standard tests build the tools themselves from ``tool_constructor`` and ``tool_constructor_params``, so
all tools here share one module-level store (real Whisper engine from the ``engine`` fixture, plus a small
transcript-reading reasoner so that extraction works) and one example session opened at module setup.
"""

from __future__ import annotations

import json
import tempfile
from typing import Any

import pytest
from langchain_aero import (
    AskAudioTool,
    CloseAudioSessionTool,
    ExtractFromAudioTool,
    ListAudioSessionsTool,
    OpenAudioTool,
    SearchAudioTool,
    SearchLibraryTool,
    TranscribeAudioTool,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableLambda
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests

from aero_agent.data import DATA_DIR, example_path
from aero_agent.store import SessionStore

pytestmark = [
    pytest.mark.asyncio,  # the standard async tests are plain ``async def``
    pytest.mark.filterwarnings("ignore:.*marked with '@pytest.mark.asyncio' but it is not an async function"),
]

CLIP = example_path("ami-short").name  # 6 s of real meeting speech, inside DATA_DIR
ITEMS_SCHEMA = {"type": "object", "properties": {"statements": {"type": "array", "items": {"type": "string"}}},
                "required": ["statements"]}


class TranscriptReasoner(BaseChatModel):
    """A stand-in reasoner: answers and extractions made of the transcript lines it is shown."""

    @property
    def _llm_type(self) -> str:
        return "transcript-reasoner"

    @staticmethod
    def _lines(messages: list[Any]) -> list[str]:
        system = next((m.content for m in messages if isinstance(m, SystemMessage)), None)
        if system is None:  # tuples ("system", text) as aero_agent.reasoning sends them
            system = next((m[1] for m in messages if isinstance(m, tuple) and m[0] == "system"), "")
        return [line for line in str(system).split("Transcript:", 1)[-1].splitlines() if line.startswith("[")]

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        text = "From the transcript: " + " ".join(self._lines(messages))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def with_structured_output(self, schema: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        json_schema = schema if isinstance(schema, dict) else schema.model_json_schema()

        def fill(messages: Any) -> dict[str, Any]:
            lines = self._lines(messages.to_messages() if hasattr(messages, "to_messages") else messages)
            out: dict[str, Any] = {}
            for key, prop in json_schema.get("properties", {}).items():
                out[key] = lines if prop.get("type") == "array" else " ".join(lines)
            return out

        return RunnableLambda(fill)


class Shared:
    store: SessionStore
    session_id: str


@pytest.fixture(scope="module", autouse=True)
def shared_store(engine):
    """One store on the real engine and one example session, for every standard test class."""
    with tempfile.TemporaryDirectory(prefix="aero-lc-std-") as root:
        Shared.store = SessionStore(root, engine=engine, reasoner=TranscriptReasoner())
        Shared.session_id = Shared.store.open(example_path("ami-short")).id
        yield Shared.store
        Shared.store.shutdown()


def _spare_session() -> str:
    """A session other than the example one, for close_audio_session to close (opening one if none is left)."""
    for info in Shared.store.list():
        if info.id != Shared.session_id and info.status == "ready":
            return info.id
    return Shared.store.open(example_path("ami-short")).id


class _StoreTool:
    """Parameters common to the tools that work on an open session."""

    tool_class: type

    @property
    def tool_constructor(self) -> type:
        return self.tool_class

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"store": Shared.store}


# ----- open_audio (integration before close_audio_session: its sessions are the ones closed there) --------
class _Open(_StoreTool):
    tool_class = OpenAudioTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"store": Shared.store, "allowed_dirs": [DATA_DIR]}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"path": CLIP}


class TestOpenAudioUnit(_Open, ToolsUnitTests):
    pass


class TestOpenAudioIntegration(_Open, ToolsIntegrationTests):
    pass


# ----- transcribe_audio ---------------------------------------------------------------------------------
class _Transcribe(_StoreTool):
    tool_class = TranscribeAudioTool

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"session_id": Shared.session_id, "start_s": 0.0, "end_s": 4.0, "format": "srt"}


class TestTranscribeAudioUnit(_Transcribe, ToolsUnitTests):
    pass


class TestTranscribeAudioIntegration(_Transcribe, ToolsIntegrationTests):
    pass


# ----- ask_audio ----------------------------------------------------------------------------------------
class _Ask(_StoreTool):
    tool_class = AskAudioTool

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"session_id": Shared.session_id, "question": "What is the speaker's name?"}


class TestAskAudioUnit(_Ask, ToolsUnitTests):
    pass


class TestAskAudioIntegration(_Ask, ToolsIntegrationTests):
    pass


# ----- search_audio -------------------------------------------------------------------------------------
class _Search(_StoreTool):
    tool_class = SearchAudioTool

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"session_id": Shared.session_id, "query": "call me", "k": 3}


class TestSearchAudioUnit(_Search, ToolsUnitTests):
    pass


class TestSearchAudioIntegration(_Search, ToolsIntegrationTests):
    pass


# ----- extract_from_audio -------------------------------------------------------------------------------
class _Extract(_StoreTool):
    tool_class = ExtractFromAudioTool

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"session_id": Shared.session_id, "instruction": "List what the speaker says about herself.",
                "json_schema": ITEMS_SCHEMA}


class TestExtractFromAudioUnit(_Extract, ToolsUnitTests):
    pass


class TestExtractFromAudioIntegration(_Extract, ToolsIntegrationTests):
    pass


# ----- list_audio_sessions ------------------------------------------------------------------------------
class _List(_StoreTool):
    tool_class = ListAudioSessionsTool

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {}


class TestListAudioSessionsUnit(_List, ToolsUnitTests):
    pass


class TestListAudioSessionsIntegration(_List, ToolsIntegrationTests):
    pass


# ----- search_library -----------------------------------------------------------------------------------
class _Library(_StoreTool):
    tool_class = SearchLibraryTool

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"query": "what is her name", "k": 3}


class TestSearchLibraryUnit(_Library, ToolsUnitTests):
    pass


class TestSearchLibraryIntegration(_Library, ToolsIntegrationTests):
    pass


# ----- close_audio_session ------------------------------------------------------------------------------
class TestCloseAudioSessionUnit(_StoreTool, ToolsUnitTests):
    tool_class = CloseAudioSessionTool

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"session_id": "s0123456789ab"}  # schema checks only: nothing is invoked


class TestCloseAudioSessionIntegration(_StoreTool, ToolsIntegrationTests):
    tool_class = CloseAudioSessionTool

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"session_id": _spare_session()}  # each invocation closes a real session


# ----- what the standard tests do not look at -----------------------------------------------------------
def test_standard_artifacts_hold_the_real_results() -> None:
    """The example session's artifacts carry the real transcript, hits, answer and extraction."""
    store, sid = Shared.store, Shared.session_id
    transcript = TranscribeAudioTool(store=store).invoke(
        {"type": "tool_call", "id": "t", "name": "transcribe_audio", "args": {"session_id": sid, "format": "json"}})
    assert transcript.status == "success"
    assert "abigail" in transcript.artifact["text"].lower()
    assert json.loads(transcript.content)["segments"]

    hits = SearchAudioTool(store=store).invoke(
        {"type": "tool_call", "id": "s", "name": "search_audio", "args": {"session_id": sid, "query": "call me"}})
    assert hits.artifact["hits"] and "call me" in hits.artifact["hits"][0]["text"].lower()

    answer = AskAudioTool(store=store).invoke(
        {"type": "tool_call", "id": "a", "name": "ask_audio", "args": {"session_id": sid, "question": "Who speaks?"}})
    assert answer.artifact["method"] == "reasoner" and "abigail" in answer.content.lower()

    extraction = ExtractFromAudioTool(store=store).invoke(
        {"type": "tool_call", "id": "e", "name": "extract_from_audio",
         "args": {"session_id": sid, "instruction": "List the statements.", "json_schema": json.dumps(ITEMS_SCHEMA)}})
    assert extraction.status == "success" and extraction.artifact["method"] == "reasoner"
    assert any("abigail" in s.lower() for s in extraction.artifact["data"]["statements"])
