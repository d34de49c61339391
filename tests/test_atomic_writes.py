"""Atomic writes: a failure in the middle of a save leaves the previous file whole and readable.

Failures are injected where a crash would land (the data written but not yet synced, the rename refused), in
the writer itself and through the session store, and a real ``kill -9`` lands while a save is syncing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from aero_agent.persistence import session_files as disk
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
import os, sys, time
from pathlib import Path
from aero_agent.persistence import atomic_write
target = Path(sys.argv[1])
atomic_write(target, b"1" * (8 << 20))  # version 1, complete
real_fsync = os.fsync

def stuck_fsync(fd):  # the second save hangs while its data is being made durable: the kill lands here
    print("syncing", flush=True)
    time.sleep(120)

os.fsync = stuck_fsync
atomic_write(target, b"2" * (8 << 20))
"""


def test_kill_9_during_a_save_leaves_the_previous_file(tmp_path: Path) -> None:
    """Catches a writer that truncates the target first: a process killed with SIGKILL in the middle of its
    second save (after writing, while syncing) must leave version 1 whole, not a torn or half-saved version 2."""
    target = tmp_path / "big.bin"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "syncing"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert target.read_bytes() == b"1" * (8 << 20)
