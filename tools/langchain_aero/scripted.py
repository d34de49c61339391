"""A scripted stand-in for a chat model: offline demos and tests of agents that use the audio tools.

A script is a generator function. It receives the conversation the agent sends the model, yields the
model's next message (text, or tool calls made with :func:`tool_call`), and receives the updated
conversation, tool results included, when the agent calls the model again. So a script can read a
session id from an ``open_audio`` result, or fall back to search when extraction reports an error::

    def script(messages):
        messages = yield tool_call("open_audio", path="talk.wav")
        session_id = last_tool_message(messages).artifact["session_id"]
        messages = yield tool_call("ask_audio", session_id=session_id, question="Who speaks?")
        yield last_tool_message(messages).content

    model = ScriptedChatModel(script=script)
    agent = langchain.agents.create_agent(model, AudioToolkit().get_tools())
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field, PrivateAttr

Reply = AIMessage | str
Script = Callable[[list[BaseMessage]], Generator[Reply, list[BaseMessage], None]]
SCRIPT_ENDED = "(the script has no more steps)"


def tool_call(name: str, call_id: str | None = None, **args: Any) -> AIMessage:
    """An assistant message calling tool ``name`` with ``args``."""
    return tool_calls((name, args), call_id=call_id)


def tool_calls(*calls: tuple[str, dict[str, Any]], call_id: str | None = None) -> AIMessage:
    """An assistant message with several tool calls, run by the agent in parallel."""
    return AIMessage(content="", tool_calls=[
        {"name": name, "args": dict(args), "id": (f"{call_id}-{i}" if call_id and len(calls) > 1 else call_id)
         or f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}
        for i, (name, args) in enumerate(calls)])


def last_tool_message(messages: Sequence[BaseMessage], name: str | None = None) -> ToolMessage:
    """The latest tool result (of tool ``name``, when given)."""
    for message in reversed(messages):
        if isinstance(message, ToolMessage) and (name is None or message.name == name):
            return message
    raise LookupError(f"no result of tool {name or '(any)'} in the conversation")


def tool_results_since_last_ai(messages: Sequence[BaseMessage]) -> list[ToolMessage]:
    """The tool results that answer the latest assistant message, in order."""
    found: list[ToolMessage] = []
    for message in reversed(messages):
        if isinstance(message, ToolMessage):
            found.append(message)
        elif isinstance(message, AIMessage):
            break
    return found[::-1]


def steps_script(steps: Sequence[Reply | Callable[[list[BaseMessage]], Reply]]) -> Script:
    """A script from a fixed list of steps; a step may be a function of the conversation."""

    def script(messages: list[BaseMessage]) -> Generator[Reply, list[BaseMessage], None]:
        for step in steps:
            messages = yield step(messages) if callable(step) else step

    return script


class ScriptedChatModel(GenericFakeChatModel):
    """langchain-core's ``GenericFakeChatModel`` driven by a script that sees the conversation.

    ``bind_tools`` returns the model itself, so it works inside ``create_agent`` and ``create_react_agent``.
    Give ``script`` (a generator function, see the module docs) or ``steps`` (a list of replies or
    functions of the conversation). After the script ends it replies ``SCRIPT_ENDED``.
    """

    messages: Iterator[Reply] = Field(default_factory=lambda: iter(()), exclude=True)
    script: Script | None = Field(default=None, exclude=True)
    steps: list[Any] | None = Field(default=None, exclude=True)
    disable_streaming: bool | str = True  # tool calls must arrive whole

    _running: Generator[Reply, list[BaseMessage], None] | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    calls: int = 0

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        return self

    def _next_reply(self, messages: list[BaseMessage]) -> Reply:
        script = self.script or (steps_script(self.steps) if self.steps is not None else None)
        if script is None:
            return next(self.messages, SCRIPT_ENDED)
        with self._lock:
            self.calls += 1
            try:
                if self._running is None:
                    self._running = script(list(messages))
                    return next(self._running)
                return self._running.send(list(messages))
            except StopIteration:
                return SCRIPT_ENDED

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        reply = self._next_reply(messages)
        message = AIMessage(content=reply) if isinstance(reply, str) else reply
        return ChatResult(generations=[ChatGeneration(message=message)])

    @property
    def _llm_type(self) -> str:
        return "scripted-fake-chat-model"
