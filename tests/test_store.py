"""SessionStore: persistence across processes, LRU eviction, threads, background encoding, recovery."""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from aero_agent.persistence import session_files as disk
from aero_agent.data import example_path
from aero_agent.engines.base import EncodedAudio
from aero_agent.errors import CorruptSessionError, SessionNotFoundError, SessionNotReadyError
from aero_agent.store import INTERRUPTED, SessionStore


def test_reload_by_a_fresh_store_gives_identical_transcript_and_history(engine, tmp_path: Path) -> None:
    """Catches a transcript, history or status that is not written to the session folder, or read back changed.
    A second store on the folder while the first still holds the session, as another process would open it (the
    store keeps no session state outside its instances); other processes read what one wrote in test_chat_repl.py (the terminal chat resumes a stored
    session and its history), test_mcp_http.py (kill -9) and test_archive.py (the index job's writers)."""
    store = SessionStore(tmp_path, engine=engine)
    session = store.open(example_path("jfk"))
    session.ask("What should you ask?")
    session.ask("Who is addressed?")
    other = SessionStore(tmp_path, engine=engine)
    reloaded = other.get(session.id)
    assert reloaded is not session
    assert reloaded.transcribe().model_dump() == session.transcribe().model_dump()
    assert [t.model_dump() for t in reloaded.history] == [t.model_dump() for t in session.history]
    assert reloaded.info.status == "ready" and reloaded.info.turns == 2
    other.shutdown()
    store.shutdown()


def test_lru_eviction_keeps_memory_under_the_cap(engine, tmp_path: Path) -> None:
    store = SessionStore(tmp_path, engine=engine, max_loaded=1)
    first = store.open(example_path("jfk"))
    first.ask("country")
    second = store.open(example_path("ami-short"))
    assert store.loaded_ids() == [second.id]
    again = store.get(first.id)  # reloaded from disk
    assert again is not first and again.transcribe() == first.transcribe()
    assert [t.content for t in again.history] == [t.content for t in first.history]
    assert store.loaded_ids() == [first.id]
    assert {i.id for i in store.list()} == {first.id, second.id}


def test_threads_share_a_store_safely(engine, tmp_path: Path) -> None:
    store = SessionStore(tmp_path, engine=engine)
    ids = [store.open(example_path(name)).id for name in ("jfk", "ami-short")]

    def ask(i: int) -> tuple[str, int, str]:
        sid = ids[i % 2]
        answer = store.get(sid).ask("country" if i % 2 == 0 else "call me")
        return sid, answer.turn, answer.text

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(ask, range(12)))
    for sid, expected in zip(ids, ("country", "call me")):
        mine = [r for r in results if r[0] == sid]
        assert sorted(turn for _, turn, _ in mine) == list(range(1, 7))  # no turn lost or doubled
        assert all(expected.lower() in text.lower() for _, _, text in mine)
        assert len(store.get(sid).history) == 12


def test_background_open_reports_progress_then_ready(engine, tmp_path: Path) -> None:
    store = SessionStore(tmp_path, engine=engine)
    session = store.open(example_path("sonnet"), wait=False)
    assert session.info.status in ("encoding", "ready")
    info = store.wait(session.id, timeout=120)
    assert info.status == "ready" and info.progress == 1.0 and info.windows_done == info.windows_total >= 2
    assert store.get(session.id).transcribe().complete


def test_reuse_and_close(engine, tmp_path: Path) -> None:
    store = SessionStore(tmp_path, engine=engine)
    clip = tmp_path / "jfk.wav"
    shutil.copy(example_path("jfk"), clip)
    first = store.open(clip)
    assert store.open(clip, reuse=True).id == first.id
    assert store.open(clip).id != first.id
    assert store.close(first.id) and not (tmp_path / first.id).exists()
    with pytest.raises(SessionNotFoundError):
        store.get(first.id)
    for bad in ("../etc", "", "x" * 200, "no-such-id"):
        with pytest.raises(SessionNotFoundError):
            store.get(bad)


def test_close_stops_a_running_encoding(engine, tmp_path: Path) -> None:
    from aero_agent.audio import load_audio

    sonnet = load_audio(example_path("sonnet")).samples
    long_audio = np.concatenate([sonnet] * 6)  # about 5 minutes: many batches
    store = SessionStore(tmp_path, engine=engine)
    session = store.open(long_audio, wait=False, sample_rate=16000)
    time.sleep(0.5)
    store.close(session.id)
    store.shutdown(wait=True)
    assert session.info.status == "failed" and "closed" in session.info.error
    assert not (tmp_path / session.id).exists()


def test_interrupted_encoding_is_reported_after_restart(engine, tmp_path: Path) -> None:
    store = SessionStore(tmp_path, engine=engine)
    done = store.open(example_path("jfk"))
    folder = tmp_path / "sdeadbeef0001"
    folder.mkdir()
    info = done.info.model_copy(update={"id": folder.name, "status": "encoding", "progress": 0.4}).model_dump()
    disk.write_json(folder / disk.INFO, info)
    (folder / ".encoded.json.123.tmp").write_text("{half")
    restarted = SessionStore(tmp_path, engine=engine)
    assert restarted.interrupted == [folder.name]
    assert restarted.status(folder.name).status == "failed" and restarted.status(folder.name).error == INTERRUPTED
    assert not list(folder.glob(".*.tmp"))
    with pytest.raises(SessionNotReadyError, match="interrupted"):
        restarted.get(folder.name).ask("anything")
    assert restarted.get(done.id).transcribe() == done.transcribe()  # the finished one is intact


def test_engine_tensors_round_trip_and_checksums(tmp_path: Path) -> None:
    encoded = EncodedAudio(engine="x", model_id="m", duration_s=1.0,
                           tensors={"prefix": torch.arange(6.0).reshape(2, 3), "seg0.turn.k": torch.ones(2)},
                           meta={"volatile_tensor_prefixes": ["seg0.turn"], "n": 1})
    disk.save_encoded(tmp_path, encoded)
    assert (tmp_path / disk.TENSORS).exists() and (tmp_path / disk.VOLATILE).exists()
    encoded.tensors["seg0.turn.k"] = torch.full((3,), 7.0)
    before = (tmp_path / disk.TENSORS).stat().st_mtime_ns
    disk.save_encoded(tmp_path, encoded, volatile_only=True)
    assert (tmp_path / disk.TENSORS).stat().st_mtime_ns == before  # the big prefix is not rewritten
    back = disk.load_encoded(tmp_path)
    assert torch.equal(back.tensors["prefix"], encoded.tensors["prefix"])
    assert torch.equal(back.tensors["seg0.turn.k"], torch.full((3,), 7.0)) and back.meta["n"] == 1
    data = bytearray((tmp_path / disk.VOLATILE).read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / disk.VOLATILE).write_bytes(bytes(data))
    assert "seg0.turn.k" not in disk.load_encoded(tmp_path).tensors  # a torn conversation cache is dropped
    data = bytearray((tmp_path / disk.TENSORS).read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / disk.TENSORS).write_bytes(bytes(data))
    with pytest.raises(CorruptSessionError):
        disk.load_encoded(tmp_path)


def test_lru_evicts_the_least_recently_used_not_the_oldest(engine, tmp_path: Path) -> None:
    """Catches FIFO eviction (``get`` not refreshing a session's place, i.e. ``move_to_end`` removed):
    with room for two, touching A after opening B makes B, not A, the one to go when C opens."""
    store = SessionStore(tmp_path, engine=engine, max_loaded=2)
    a = store.open(example_path("ami-short"))
    b = store.open(example_path("jfk"))
    assert store.loaded_ids() == [a.id, b.id]
    assert store.get(a.id) is a  # touched: now the most recently used
    c = store.open(example_path("ami-short"))
    assert store.loaded_ids() == [a.id, c.id]
    assert store.get(a.id) is a  # never left memory
    assert store.get(b.id) is not b and store.get(b.id).transcribe() == b.transcribe()  # reloaded from disk
