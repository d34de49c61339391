"""Atomic writes: a failure in the middle of a save leaves the previous file whole and readable.

Failures are injected where a crash would land (the data written but not yet synced, the rename refused), in
the writer itself and through the session store, and a real ``kill -9`` lands while a large write is in flight.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from aero_agent import persistence as disk
from aero_agent.data import example_path
from aero_agent.engines.base import EncodedAudio
from aero_agent.store import SessionStore


class Crash(RuntimeError):
    """Stands for the process dying at the injected point."""


def _crash(*args, **kwargs):
    raise Crash("injected failure")


@pytest.mark.parametrize("point", ["fsync", "replace"])
def test_failed_write_keeps_the_previous_file(tmp_path: Path, monkeypatch, point: str) -> None:
    """Catches ``atomic_write`` writing in place (the old file truncated before the new one is whole) and a
    temporary file left behind after a failure."""
    target = tmp_path / "info.json"
    disk.write_json(target, {"version": 1, "text": "old"})
    monkeypatch.setattr(os, point, _crash)
    with pytest.raises(Crash):
        disk.write_json(target, {"version": 2, "text": "new" * 1000})
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"version": 1, "text": "old"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["info.json"]


def test_failed_tensor_save_keeps_the_previous_tensors(tmp_path: Path, monkeypatch) -> None:
    """Catches the safetensors file being written in place: a refused rename must leave the old tensors
    loadable with their checksum."""
    first = EncodedAudio(engine="x", model_id="m", duration_s=1.0, tensors={"a": torch.arange(4.0)})
    disk.save_encoded(tmp_path, first)
    second = EncodedAudio(engine="x", model_id="m", duration_s=1.0, tensors={"a": torch.full((4,), 9.0)})
    monkeypatch.setattr(os, "replace", _crash)
    with pytest.raises(Crash):
        disk.save_encoded(tmp_path, second)
    monkeypatch.undo()
    assert torch.equal(disk.load_encoded(tmp_path).tensors["a"], torch.arange(4.0))
    assert not list(tmp_path.glob(".*.tmp"))


def test_store_save_that_fails_midway_leaves_the_session_readable(engine, tmp_path: Path, monkeypatch) -> None:
    """Catches torn session files: a turn whose save dies after its first file is written reloads as the
    session before or after that turn, never as unreadable JSON."""
    store = SessionStore(tmp_path / "store", engine=engine)
    session = store.open(example_path("jfk"))
    session.ask("What should you ask?")
    calls = {"n": 0}
    real_replace = os.replace

    def replace_once_then_crash(src, dst):
        calls["n"] += 1
        if calls["n"] > 1:
            raise Crash("injected failure")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_once_then_crash)
    with pytest.raises(Crash):
        session.ask("Who is addressed?")
    monkeypatch.undo()
    folder = tmp_path / "store" / session.id
    for path in folder.glob("*.json"):
        json.loads(path.read_text())  # every file parses
    assert not list(folder.glob(".*.tmp"))
    reloaded = SessionStore(tmp_path / "store", engine=engine).get(session.id)
    assert reloaded.transcribe() == session.transcribe()
    assert [t.content for t in reloaded.history][:2] == ["What should you ask?", session.history[1].content]


_WRITER = """
import sys, time
from pathlib import Path
from aero_agent.persistence import atomic_write
target = Path(sys.argv[1])
n = 0
while True:
    n += 1
    atomic_write(target, (str(n % 10) * (8 << 20)).encode())  # 8 MB of one digit per write
    if n == 1:
        print("ready", flush=True)
"""


def test_kill_9_during_writes_leaves_a_whole_file(tmp_path: Path) -> None:
    """Catches a writer that truncates the target first: killed with SIGKILL in the middle of a stream of
    large writes, the file must be one whole version (one digit, full length), never a torn mix."""
    target = tmp_path / "big.bin"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.7)  # several writes in flight
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    data = target.read_bytes()
    assert len(data) == 8 << 20 and len(set(data)) == 1
