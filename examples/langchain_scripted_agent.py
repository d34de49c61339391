#!/usr/bin/env python
"""A scripted multi-turn LangChain agent over one recording, fully offline.

A real LangChain agent loop (``langchain.agents.create_agent``) gets the aero-agent audio tools; the
"model" is a script (``langchain_aero.ScriptedChatModel``) that reads each tool result and decides the next
call, so the demo runs with no API key. Over five user turns it opens the recording, transcribes it,
searches it, asks a question and a follow-up, and asks for the action items as JSON. The embedded Whisper
engine only transcribes, so it refuses extraction with its capability message and the script falls back
to search. With an answer-capable engine (``--engine aero --model DIR``) or a reasoner chat model
(``--reasoner openai:gpt-4o-mini``), the extraction runs.

    python examples/langchain_scripted_agent.py                 # the bundled JFK clip
    python examples/langchain_scripted_agent.py --clip meeting
    python examples/langchain_scripted_agent.py --engine aero --model /path/to/checkpoint
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import langchain_aero  # noqa: F401
except ImportError:  # running from a source checkout without installing
    _repo = Path(__file__).resolve().parent.parent
    sys.path[:0] = [str(_repo), str(_repo / "tools")]

from langchain.agents import create_agent
from langchain_aero import AudioToolkit, ScriptedChatModel, last_tool_message, tool_call
from langchain_aero.tools import clock
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver

from aero_agent.data import example_path

ACTION_ITEMS_SCHEMA = {
    "title": "action_items",
    "type": "object",
    "properties": {"action_items": {"type": "array", "items": {"type": "string"},
                                    "description": "Each thing the listeners are asked to do."}},
    "required": ["action_items"],
}


@dataclass
class Plan:
    """What the scripted agent looks for in a recording."""

    search: str
    question: str
    follow_up: str
    fallback_query: str


PLANS = {
    "jfk": Plan(search="country", question="What does the speaker ask his fellow Americans to do?",
                follow_up="And what does he tell them not to ask?", fallback_query="ask what you can do"),
    "meeting": Plan(search="project documents", question="Where can they find the project files?",
                    follow_up="And who is the marketing expert?", fallback_query="project documents link"),
    "ami-short": Plan(search="call me", question="What does the speaker call herself?",
                      follow_up="And what can we call her?", fallback_query="call me"),
    "sonnet": Plan(search="beauty rose", question="What do we desire from the fairest creatures?",
                   follow_up="Why do we desire it?", fallback_query="increase desire"),
}


@dataclass
class TurnLog:
    user: str
    tool_messages: list[ToolMessage] = field(default_factory=list)
    reply: str = ""


def scripted_policy(path: str, plan: Plan) -> Callable[[list[BaseMessage]], Any]:
    """The script the fake model follows: one generator over all five user turns."""

    def script(messages: list[BaseMessage]):
        # turn 1: open once, then transcribe
        messages = yield tool_call("open_audio", path=path)
        opened = last_tool_message(messages, "open_audio")
        if opened.status == "error":
            yield f"I could not open the recording: {opened.content}"
            return
        sid, duration = opened.artifact["session_id"], opened.artifact["duration_s"]
        messages = yield tool_call("transcribe_audio", session_id=sid)
        yield f"The recording is {duration:.1f} s long. It says:\n{last_tool_message(messages).content}"

        # turn 2: search
        messages = yield tool_call("search_audio", session_id=sid, query=plan.search, k=3)
        hits = last_tool_message(messages).artifact["hits"]
        yield (f"{plan.search!r} comes up at " + "; ".join(f"{clock(h['start'])}: \"{h['text']}\"" for h in hits)
               if hits else f"{plan.search!r} is not mentioned.")

        # turns 3 and 4: a question and a follow-up on the same session
        for question in (plan.question, plan.follow_up):
            messages = yield tool_call("ask_audio", session_id=sid, question=question)
            yield summarise_answer(last_tool_message(messages))

        # turn 5: structured extraction, or search when the engine cannot extract
        messages = yield tool_call("extract_from_audio", session_id=sid, json_schema=ACTION_ITEMS_SCHEMA,
                                   instruction="List the action items: what the listeners are asked to do.")
        extracted = last_tool_message(messages)
        if extracted.status == "success":
            items = extracted.artifact["data"].get("action_items", [])
            yield "Action items:\n" + "\n".join(f"- {item}" for item in items)
            return
        messages = yield tool_call("search_audio", session_id=sid, query=plan.fallback_query, k=3)
        hits = last_tool_message(messages).artifact["hits"]
        yield ("This engine cannot extract structured data, so instead here are the passages with the calls to "
               "action:\n" + "\n".join(f"- [{clock(h['start'])}] {h['text']}" for h in hits))

    return script


def summarise_answer(result: ToolMessage) -> str:
    """The agent's reply from an ask_audio result: the answer, or the best evidence when that is all there is."""
    if result.status != "success":
        return f"I could not get an answer: {result.content}"
    answer = result.artifact
    if answer["method"] != "transcript-evidence":
        return answer["text"]
    if not answer["evidence"]:
        return "The transcript does not seem to say."
    best = answer["evidence"][0]
    return (f"The engine only transcribes, so here is the closest passage ({clock(best['start'])}-"
            f"{clock(best['end'])}): \"{best['text']}\"")


def user_turns(name: str, plan: Plan) -> list[str]:
    return [
        f"Open {name} and tell me what it says.",
        f"Where is {plan.search!r} mentioned?",
        plan.question,
        plan.follow_up,
        "List the action items as JSON.",
    ]


def show(message: BaseMessage, out: Callable[[str], None]) -> None:
    """Print one agent step: a tool call, a tool result, or the agent's reply."""
    if isinstance(message, AIMessage) and message.tool_calls:
        for call in message.tool_calls:
            args = ", ".join(f"{k}={json.dumps(v) if isinstance(v, (dict, list)) else repr(v)}"
                             for k, v in call["args"].items())
            out(f"  -> {call['name']}({args})")
    elif isinstance(message, ToolMessage):
        mark = "ok" if message.status == "success" else "ERROR"
        out(textwrap.indent(f"<- [{mark}] {message.content}", "     ")[3:])
    elif isinstance(message, AIMessage):
        out(textwrap.indent(f"agent: {message.content}", "  "))


def run_conversation(toolkit: AudioToolkit, path: Path, plan: Plan,
                     out: Callable[[str], None] = print) -> list[TurnLog]:
    """Run the five scripted turns on ``path``, printing each step; return what each turn did."""
    model = ScriptedChatModel(script=scripted_policy(str(path), plan))
    agent = create_agent(model, toolkit.get_tools(), checkpointer=InMemorySaver(),
                         system_prompt="You answer questions about audio recordings with the audio tools.")
    config = {"configurable": {"thread_id": "scripted-demo"}}
    logs = []
    for number, text in enumerate(user_turns(path.name, plan), 1):
        out(f"\n=== turn {number} === user: {text}")
        log = TurnLog(user=text)
        for update in agent.stream({"messages": [HumanMessage(text)]}, config, stream_mode="updates"):
            for node_output in update.values():
                for message in (node_output or {}).get("messages", []):
                    show(message, out)
                    if isinstance(message, ToolMessage):
                        log.tool_messages.append(message)
                    elif isinstance(message, AIMessage) and not message.tool_calls:
                        log.reply = str(message.content)
        logs.append(log)
    return logs


def build_toolkit(args: argparse.Namespace, allowed: list[Path]) -> AudioToolkit:
    engine = reasoner = None
    if args.engine != "whisper" or args.model:
        from aero_agent.engines import load_engine

        engine = load_engine(args.engine, args.model)
    if args.reasoner:
        from langchain.chat_models import init_chat_model

        reasoner = init_chat_model(args.reasoner)
    return AudioToolkit(engine=engine, allowed_dirs=allowed, reasoner=reasoner)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", choices=sorted(PLANS), default="jfk", help="bundled recording (default jfk)")
    parser.add_argument("--audio", type=Path, help="your own recording instead (give --search/--ask too)")
    parser.add_argument("--search", help="what to search for in turn 2")
    parser.add_argument("--ask", action="append", default=[], help="question for turn 3, then the follow-up")
    parser.add_argument("--engine", default="whisper", choices=["whisper", "aero"])
    parser.add_argument("--model", help="checkpoint folder for --engine (the aero engine needs one)")
    parser.add_argument("--reasoner", help="chat model that reasons over the transcript, e.g. openai:gpt-4o-mini")
    args = parser.parse_args(argv)

    plan = PLANS[args.clip]
    path = args.audio.expanduser().resolve() if args.audio else example_path(args.clip)
    questions = (args.ask + [plan.question, plan.follow_up][len(args.ask):])[:2]
    plan = Plan(search=args.search or plan.search, question=questions[0], follow_up=questions[1],
                fallback_query=args.search or plan.fallback_query)
    toolkit = build_toolkit(args, [path.parent])
    run_conversation(toolkit, path, plan)
    return 0


if __name__ == "__main__":
    sys.exit(main())
