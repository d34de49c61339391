"""A scripted multi-turn agent that drives aero-mcp over stdio, the way Claude Desktop would.

It starts ``aero-mcp`` as a subprocess (``python -m aero_mcp``), then plays an agent's turns on one recording:
open, wait for encoding with progress, transcribe, ask, ask a follow-up, search, and try a structured
extraction. The embedded Whisper engine only transcribes, so the extraction is refused with its reason; the
agent shows that and falls back to search results, as a model would.

    python examples/mcp_scripted_client.py                      # the bundled JFK clip
    python examples/mcp_scripted_client.py path/to/meeting.wav  # your own recording
    python examples/mcp_scripted_client.py talk.mp3 --store /tmp/aero-sessions --question "Who spoke first?"

Requires the ``mcp`` package (2.x). Run from a checkout or with aero-agent installed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

REPO = Path(__file__).resolve().parent.parent
ACTION_ITEMS_SCHEMA = {
    "type": "object",
    "properties": {"action_items": {"type": "array", "items": {
        "type": "object", "properties": {"owner": {"type": "string"}, "task": {"type": "string"}},
        "required": ["task"]}}},
    "required": ["action_items"],
}


def server_parameters(allow_dir: Path, store: Path, *extra: str) -> StdioServerParameters:
    """How to launch aero-mcp over stdio: this Python running ``-m aero_mcp`` (works installed or from a checkout)."""
    pythonpath = [str(REPO), str(REPO / "mcp_server")] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {"PYTHONPATH": os.pathsep.join(pythonpath)}
    # the child gets only a minimal environment: pass on what the engines read
    env.update({k: v for k, v in os.environ.items() if k.startswith(("AERO_", "HF_", "TRANSFORMERS_", "XDG_", "OMP_"))})
    return StdioServerParameters(command=sys.executable,
                                 args=["-m", "aero_mcp", "--allow-dir", str(allow_dir), "--store", str(store), *extra],
                                 env=env)


def _text(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def run_agent(client: Client, audio: Path, question: str = "What is the speaker asking for?",
                    say: Callable[[str], None] = print) -> dict[str, Any]:
    """Play the scripted turns on ``audio``; return what the agent learnt (for tests and further use)."""
    tools = [t.name for t in (await client.list_tools()).tools]
    say(f"[agent] the server offers: {', '.join(tools)}")

    say(f"[agent] open_audio {audio.name}")
    opened = await client.call_tool("open_audio", {"path": str(audio)})
    if opened.is_error:
        raise RuntimeError(_text(opened))
    session = opened.structured_content
    sid = session["session_id"]
    say(f"[server] {_text(opened)}")

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        say(f"[progress] {value:.0f}/{total or 100:.0f} {message or ''}")

    while session["status"] == "encoding":  # long recordings: poll, each call well under the client time limit
        status = await client.call_tool("session_status", {"session_id": sid, "wait_s": 25},
                                        progress_callback=on_progress)
        session = status.structured_content
        say(f"[server] {session['message']}")
    if session["status"] == "failed":
        raise RuntimeError(session["message"])

    transcript = await client.call_tool("transcribe_audio", {"session_id": sid})
    text = transcript.structured_content["text"]
    say(f"[server] transcript: {text[:300]}{'...' if len(text) > 300 else ''}")

    words = [w.strip(".,!?;:\"'").lower() for w in text.split()]
    keyword = max(words, key=len) if words else "the"  # a content word the follow-up and the search can use
    answers = []
    for q in (question, f"What else is said about {keyword}?"):
        say(f"[agent] ask_audio: {q}")
        reply = await client.call_tool("ask_audio", {"session_id": sid, "question": q})
        if reply.is_error:
            raise RuntimeError(_text(reply))
        answers.append(reply.structured_content)
        say(f"[server] turn {reply.structured_content['turn']} ({reply.structured_content['method']}): {_text(reply)}")

    hits = await client.call_tool("search_audio", {"session_id": sid, "query": keyword, "k": 3})
    say(f"[server] search '{keyword}':\n{_text(hits)}")

    say("[agent] extract_from_audio: action items")
    extraction = await client.call_tool("extract_from_audio", {
        "session_id": sid, "instruction": "List the action items with their owners.", "json_schema": ACTION_ITEMS_SCHEMA})
    extract_error = None
    if extraction.is_error:
        extract_error = _text(extraction)
        say(f"[server] refused: {extract_error}")
        say("[agent] no structured extraction with this engine; using the search hits and transcript instead.")
    else:
        say(f"[server] {json.dumps(extraction.structured_content['data'], indent=1)}")

    srt = await client.read_resource(f"audio://sessions/{sid}/transcript.srt")
    say("[resource] transcript.srt:\n" + "\n".join(srt.contents[0].text.splitlines()[:4]))
    history = json.loads((await client.read_resource(f"audio://sessions/{sid}/history")).contents[0].text)
    say(f"[resource] history holds {len(history)} turns")
    return {"session_id": sid, "status": session["status"], "transcript": text, "answers": answers,
            "hits": hits.structured_content["hits"], "extract_error": extract_error,
            "extraction": None if extraction.is_error else extraction.structured_content, "history": history,
            "tools": tools}


async def main_async(args: argparse.Namespace) -> None:
    audio = Path(args.audio).expanduser().resolve()
    store = Path(args.store) if args.store else Path(tempfile.mkdtemp(prefix="aero-mcp-example-"))
    params = server_parameters(audio.parent, store)
    async with Client(params) as client:
        await run_agent(client, audio, args.question)
    print(f"[done] sessions are kept in {store}; run again with --store {store} to continue them")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("audio", nargs="?", default=str(REPO / "aero_agent" / "data" / "jfk_inaugural_1961.wav"))
    parser.add_argument("--store", help="session store folder (default: a new temporary folder)")
    parser.add_argument("--question", default="What is the speaker asking for?")
    anyio.run(main_async, parser.parse_args())


if __name__ == "__main__":
    main()
