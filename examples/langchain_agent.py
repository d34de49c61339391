#!/usr/bin/env python
"""Give a real chat model ears: a LangChain agent with the aero-agent audio toolkit.

The chat model is chosen by the ``AERO_CHAT_MODEL`` environment variable, in
``langchain.chat_models.init_chat_model``'s ``provider:model`` form, with that provider's package and key:

    pip install langchain-openai && export OPENAI_API_KEY=...
    AERO_CHAT_MODEL=openai:gpt-4o-mini python examples/langchain_agent.py
    AERO_CHAT_MODEL=anthropic:claude-3-5-haiku-latest python examples/langchain_agent.py talk.wav --ask "Who spoke?"
    AERO_CHAT_MODEL=ollama:llama3.1 python examples/langchain_agent.py --interactive

The audio is decoded and encoded once by the embedded offline Whisper engine (or ``--engine aero --model
DIR``); the model then calls open_audio, transcribe_audio, ask_audio, search_audio, extract_from_audio,
list_audio_sessions and close_audio_session over several turns of one conversation. With no provider
configured it says what to set, and ``examples/langchain_scripted_agent.py`` runs the same tools offline.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

try:
    import langchain_aero  # noqa: F401
except ImportError:  # running from a source checkout without installing
    _repo = Path(__file__).resolve().parent.parent
    sys.path[:0] = [str(_repo), str(_repo / "tools")]

from langchain_aero import AudioToolkit
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from aero_agent.data import example_path

ENV_VAR = "AERO_CHAT_MODEL"
SYSTEM_PROMPT = (
    "You are an assistant with ears. Use the audio tools to work with recordings: open a file once with "
    "open_audio and reuse its session_id; use search_audio to find where something is said and transcribe_audio "
    "with start_s/end_s to read that part; cite times as mm:ss. If a tool reports an error, read it and fix "
    "the call. If extract_from_audio says the engine cannot extract, build the answer from search_audio and "
    "transcribe_audio results yourself.")
DEFAULT_QUESTIONS = [
    "What is said in this recording, and how long is it?",
    "Where exactly is the word 'country' used? Give the times.",
    "Summarise the speaker's request in one sentence.",
    "List the action items as JSON with a field action_items.",
]
NOT_CONFIGURED = f"""No chat model is configured. Set {ENV_VAR} to provider:model and give that provider's key, e.g.

    pip install langchain-openai
    export OPENAI_API_KEY=sk-...
    export {ENV_VAR}=openai:gpt-4o-mini

Other providers work the same way (anthropic:..., google_genai:..., mistralai:..., ollama:llama3.1 for a local
model); see langchain.chat_models.init_chat_model. To see the audio tools work with no model or key at all,
run examples/langchain_scripted_agent.py."""


class SetupError(Exception):
    """The chat model cannot be set up; the message says what to do."""


def load_chat_model(spec: str | None) -> Any:
    """The chat model named by ``spec`` (``provider:model``), or SetupError saying what is missing."""
    if not spec or not spec.strip():
        raise SetupError(NOT_CONFIGURED)
    from langchain.chat_models import init_chat_model

    try:
        return init_chat_model(spec.strip())
    except ImportError as exc:
        raise SetupError(f"{ENV_VAR}={spec}: the provider's package is not installed ({exc}).") from exc
    except ValueError as exc:
        raise SetupError(f"{ENV_VAR}={spec}: {exc}\nUse provider:model, e.g. openai:gpt-4o-mini.") from exc
    except Exception as exc:  # noqa: BLE001 - provider clients fail in their own ways, e.g. a missing key
        raise SetupError(f"{ENV_VAR}={spec}: the chat model could not be created: {type(exc).__name__}: {exc}\n"
                         "Check that the provider's API key is set.") from exc


def show(message: BaseMessage, out: Callable[[str], None]) -> None:
    """Print one agent step: tool calls, a tool result, or the model's reply."""
    if isinstance(message, AIMessage) and message.tool_calls:
        for call in message.tool_calls:
            out(f"  -> {call['name']}({json.dumps(call['args'], ensure_ascii=False)})")
    elif isinstance(message, ToolMessage):
        mark = "ok" if message.status == "success" else "ERROR"
        content = str(message.content)
        out(textwrap.indent(f"<- [{mark}] {content[:600]}{' ...' if len(content) > 600 else ''}", "     ")[3:])
    elif isinstance(message, AIMessage):
        out(textwrap.indent(f"agent: {message.text}", "  "))


def converse(model: Any, toolkit: AudioToolkit, audio: Path, questions: Iterable[str],
             out: Callable[[str], None] = print) -> list[str]:
    """Run one conversation about ``audio``: the first turn opens it, then one turn per question."""
    from langchain.agents import create_agent
    from langgraph.checkpoint.memory import InMemorySaver

    agent = create_agent(model, toolkit.get_tools(), system_prompt=SYSTEM_PROMPT, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "audio"}, "recursion_limit": 40}
    turns = [f"Open the recording at {audio} and tell me its duration."]
    replies = []
    for number, text in enumerate(_chain(turns, questions), 1):
        out(f"\n=== turn {number} === user: {text}")
        reply = ""
        for update in agent.stream({"messages": [HumanMessage(text)]}, config, stream_mode="updates"):
            for node_output in update.values():
                for message in (node_output or {}).get("messages", []):
                    show(message, out)
                    if isinstance(message, AIMessage) and not message.tool_calls:
                        reply = message.text
        replies.append(reply)
    return replies


def _chain(first: list[str], rest: Iterable[str]) -> Iterable[str]:
    yield from first
    yield from rest


def _read_questions() -> Iterable[str]:
    while True:
        try:
            line = input("\nyou> ").strip()
        except EOFError:
            return
        if not line or line in {"quit", "exit"}:
            return
        yield line


def main(argv: list[str] | None = None, model: Any = None, toolkit: AudioToolkit | None = None) -> int:
    """Command line entry; ``model`` and ``toolkit`` may be given to run without the environment (tests)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("audio", nargs="?", type=Path, help="recording to talk about (default: the bundled JFK clip)")
    parser.add_argument("--ask", action="append", help="a question; repeat for more turns (default: four questions)")
    parser.add_argument("--interactive", action="store_true", help="read questions from the terminal")
    parser.add_argument("--engine", default="whisper", choices=["whisper", "aero"])
    parser.add_argument("--model", help="checkpoint folder for --engine")
    parser.add_argument("--reasoner", action="store_true",
                        help="also let sessions use the chat model to reason over the transcript (ask/extract)")
    args = parser.parse_args(argv)

    try:
        model = model if model is not None else load_chat_model(os.environ.get(ENV_VAR))
    except SetupError as exc:
        print(exc, file=sys.stderr)
        return 2

    audio = (args.audio.expanduser().resolve() if args.audio else example_path("jfk"))
    if not audio.is_file():
        print(f"{audio}: no such file", file=sys.stderr)
        return 2
    if toolkit is None:
        engine = None
        if args.engine != "whisper" or args.model:
            from aero_agent.engines import load_engine

            engine = load_engine(args.engine, args.model)
        toolkit = AudioToolkit(engine=engine, allowed_dirs=[audio.parent, Path.cwd()],
                               reasoner=model if args.reasoner else None)

    questions: Iterable[str] = _read_questions() if args.interactive else (args.ask or DEFAULT_QUESTIONS)
    try:
        converse(model, toolkit, audio, questions)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - report provider errors (auth, quota, network) plainly
        print(f"\nThe chat model call failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
