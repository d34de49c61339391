"""aero-mcp over streamable HTTP on 127.0.0.1 as a real subprocess: concurrency, DNS rebinding, kill -9.

One server process for the module (one model load): eight concurrent clients make well over a hundred calls,
each on its own session, with zero failures; requests naming a foreign Host or Origin are refused; and last the
process is killed with SIGKILL while a recording is encoding, and a fresh server on the same store must find
every finished session intact and report the interrupted one. A test that finds the server killed starts another,
so each test also runs alone or in another order.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from aero_agent.data import example_path

from mcp_driver import drive
from mcp_process import http_server as server_process
from speech_data import MANIFEST, SPEECH_DIR as SPEECH

# eight short real clips with different words (about 3 s each)
CLIPS = ["pocketsphinx_goforward", "mfa_youknow", "librivox_sense_sensibility_0880",
         "mfa_thoughts", "pocketsphinx_forever_input_2", "librivox_sense_sensibility_0930", "ljspeech_LJ001-0002",
         "mfa_falsetto2"]
ROUNDS = 4


def _words(text: str) -> set[str]:
    return {w for w in "".join(c if c.isalnum() else " " for c in text.lower()).split() if len(w) > 2}


@contextmanager
def running_server(root: Path, audio: Path, store: Path) -> Iterator[dict[str, Any]]:
    """``aero-mcp`` over streamable HTTP as a subprocess on a free port, stopped afterwards."""
    with server_process(root, "--host", "127.0.0.1", "--allow-dir", str(audio), "--store", str(store),
                     timeout_s=60) as server:
        yield {**server, "audio": audio, "store": store, "root": root}


@pytest.fixture(scope="module")
def http_server(tmp_path_factory) -> Iterator[Callable[[], dict[str, Any]]]:
    """The module's server: ``http_server()`` is the running one, started on first use and again after a test
    killed it (so each test stands alone, in any order). Its folder holds the eight shared clips when present
    (the concurrency test skips without them), a short and a long bundled recording for the kill test."""
    root = tmp_path_factory.mktemp("mcp-http")
    audio, store = root / "audio", root / "store"
    audio.mkdir()
    references: dict[str, str] = {}
    manifest = {}
    if MANIFEST.is_file():
        manifest = {r["id"]: r for r in map(json.loads, MANIFEST.read_text().splitlines()) if r}
    for i, clip in enumerate(CLIPS):  # without the shared clips the concurrency test skips; none is swapped in
        if clip in manifest:
            shutil.copy(SPEECH / manifest[clip]["path"], audio / f"client{i}.wav")
            references[f"client{i}.wav"] = manifest[clip]["text"]
    shutil.copy(example_path("jfk"), audio / "finished.wav")
    shutil.copy(example_path("sonnet"), audio / "long.wav")  # 53 s: still encoding when the process is killed
    running: list[dict[str, Any]] = []

    async def loaded(url: str) -> None:
        """Wait (up to 4 minutes) until the server's model is loaded: on a busy machine it may take longer than a
        call's wait, and a call made sooner is told to come again (what an agent does; these tests do not)."""
        async with Client(url) as client:
            with anyio.fail_after(240):
                while (result := await client.call_tool("list_audio_sessions", {})).is_error:
                    assert "still loading" in _text(result), _text(result)
                    await anyio.sleep(1)

    with ExitStack() as stack:
        def current() -> dict[str, Any]:
            if not running or running[-1]["proc"].poll() is not None:
                running.append({**stack.enter_context(running_server(root, audio, store)), "references": references})
                anyio.run(loaded, running[-1]["url"])
            return running[-1]

        yield current


def _text(result: Any) -> str:
    return "\n".join(getattr(b, "text", "") for b in result.content)


def test_eight_concurrent_clients_each_on_its_own_session(http_server):
    """Catches lost or crossed calls under concurrency: each client's transcript holds its own clip's words."""
    server = http_server()
    url, audio, references = server["url"], server["audio"], server["references"]
    if len(references) < len(CLIPS):
        pytest.skip(f"the eight clips of {SPEECH} are not present")
    calls: list[str] = []
    failures: list[str] = []
    sessions: dict[str, str] = {}
    progress: list[tuple[int, float]] = []

    async def client_run(i: int) -> None:
        name = f"client{i}.wav"

        async def call(tool: str, args: dict[str, Any]) -> dict[str, Any]:
            result = await client.call_tool(tool, args)
            calls.append(tool)
            if result.is_error:
                failures.append(f"client {i} {tool}: {_text(result)[:300]}")
                raise AssertionError(failures[-1])
            return result.structured_content

        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            progress.append((i, value))

        # half the clients speak the handshake-era protocol (as desktop clients do), half negotiate the newest
        async with Client(url, mode="legacy" if i % 2 else "auto") as client:
            result = await client.call_tool("open_audio", {"path": name}, progress_callback=on_progress)
            calls.append("open_audio")
            assert not result.is_error, _text(result)
            opened = result.structured_content
            sid = opened["session_id"]
            sessions[name] = sid
            assert opened["source"] == str((audio / name).resolve())
            status = opened
            while status["status"] == "encoding":
                status = await call("session_status", {"session_id": sid, "wait_s": 20})
            assert status["status"] == "ready", status
            first = await call("transcribe_audio", {"session_id": sid})
            transcript = first["text"]
            own = _words(references[name])
            assert len(_words(transcript) & own) >= max(1, len(own) // 2), (name, transcript, references[name])
            keyword = max(_words(transcript) & own, key=len)
            for round_ in range(1, ROUNDS + 1):
                status = await call("session_status", {"session_id": sid})
                assert status["session_id"] == sid and status["source"].endswith(name)
                assert status["turns"] == round_ - 1
                again = await call("transcribe_audio", {"session_id": sid, "format": "srt"})
                assert [s["text"] for s in again["segments"]] == [s["text"] for s in first["segments"]]
                hits = await call("search_audio", {"session_id": sid, "query": keyword, "k": 3})
                assert hits["hits"] and all(h["text"] in transcript for h in hits["hits"])
                answer = await call("ask_audio", {"session_id": sid, "question": f"What is said about {keyword}?"})
                assert answer["turn"] == round_ and answer["session_id"] == sid
                assert answer["evidence"] and all(e["text"] in transcript for e in answer["evidence"])
            listed = await call("list_audio_sessions", {})
            assert sid in {s["session_id"] for s in listed["sessions"]}

    async def main() -> None:
        with anyio.fail_after(240):
            async with anyio.create_task_group() as tg:
                for i in range(len(CLIPS)):
                    tg.start_soon(client_run, i)

    anyio.run(main)
    assert failures == []
    assert len(calls) >= 100, len(calls)
    assert len(set(sessions.values())) == len(CLIPS)
    assert progress and all(0 <= v <= 100 for _, v in progress)  # notifications while open_audio waited
    assert (server["root"] / "stdout.log").read_text() == ""  # logs go to stderr, never stdout
    assert "aero-mcp: streamable-http transport" in (server["root"] / "stderr.log").read_text()


def test_dns_rebinding_is_refused(http_server):
    """Catches DNS-rebinding protection switched off: a request naming another Host, or coming from a web
    page's Origin, is refused before it reaches the MCP session; the loopback host is served."""
    import httpx

    url = http_server()["url"]
    port = url.split(":")[2].split("/")[0]
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    evil_host = httpx.post(url, json=body, headers={**headers, "Host": "evil.example"}, timeout=20)
    assert evil_host.status_code == 421, (evil_host.status_code, evil_host.text[:300])
    evil_origin = httpx.post(url, json=body, headers={**headers, "Origin": "http://evil.example"}, timeout=20)
    assert evil_origin.status_code == 403, (evil_origin.status_code, evil_origin.text[:300])
    good = httpx.post(url, json=body, headers={**headers, "Host": f"127.0.0.1:{port}"}, timeout=20)
    assert good.status_code == 200, (good.status_code, good.text[:300])


def test_kill_9_while_encoding_loses_nothing_finished(http_server, engine):
    """Catches a finished session lost or torn by a crash, and an interrupted one not reported. Kills the
    module's server (the next test to ask starts another), and compares with the sessions it held just before."""
    server = http_server()
    url, store, proc = server["url"], server["store"], server["proc"]

    async def before_kill() -> tuple[str, str, dict[str, Any], set[str]]:
        async with Client(url) as client:
            done = await client.call_tool("open_audio", {"path": "finished.wav", "wait_s": 50})
            finished = done.structured_content["session_id"]
            assert done.structured_content["status"] == "ready"
            await client.call_tool("ask_audio", {"session_id": finished, "question": "Where should it go?"})
            transcript = (await client.call_tool("transcribe_audio", {"session_id": finished})).structured_content
            long = await client.call_tool("open_audio", {"path": "long.wav", "wait_s": 0})
            assert long.structured_content["status"] == "encoding", _text(long)
            listed = (await client.call_tool("list_audio_sessions", {})).structured_content
            ready = {s["session_id"] for s in listed["sessions"] if s["status"] == "ready"}
            assert finished in ready
            return finished, long.structured_content["session_id"], transcript, ready

    finished, interrupted, transcript, ready_before = anyio.run(before_kill)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)

    # every file the dead process left is whole: JSON parses, no session folder is half-made (the store's
    # catalog.sqlite and its WAL, and dot-named staging, are not session folders)
    for folder in (f for f in store.iterdir() if f.is_dir() and not f.name.startswith(".")):
        for path in folder.glob("*.json"):
            json.loads(path.read_text())
        assert (folder / "info.json").exists(), folder
    assert json.loads((store / interrupted / "info.json").read_text())["status"] == "encoding"

    from aero_mcp import ServerConfig, create_server

    restarted = create_server(ServerConfig(allow_dirs=[server["audio"]], store_dir=store), engine=engine)

    async def after_restart(client: Client) -> None:
        listed = (await client.call_tool("list_audio_sessions", {})).structured_content
        assert listed["interrupted"] == [interrupted]
        assert interrupted in listed["message"] and "open their files again" in listed["message"]
        by_id = {s["session_id"]: s for s in listed["sessions"]}
        assert by_id[interrupted]["status"] == "failed" and by_id[interrupted]["interrupted"] is True
        ready = {s["session_id"] for s in listed["sessions"] if s["status"] == "ready"}
        assert ready == ready_before and len(listed["sessions"]) == len(ready) + 1
        status = await client.call_tool("session_status", {"session_id": interrupted})
        assert "server stopped while this session was encoding" in _text(status)
        refused = await client.call_tool("transcribe_audio", {"session_id": interrupted})
        assert refused.is_error and "interrupted" in _text(refused)
        again = (await client.call_tool("transcribe_audio", {"session_id": finished})).structured_content
        assert again["segments"] == transcript["segments"]
        history = json.loads((await client.read_resource(f"audio://sessions/{finished}/history")).contents[0].text)
        assert history[-2]["content"] == "Where should it go?"

    drive(restarted, after_restart)
    assert not list(store.glob("*/.*.tmp"))  # leftovers of interrupted writes are cleaned on start
