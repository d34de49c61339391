"""A bounded SessionStore: least recently used finished sessions go first, encoding ones never, refusals are typed."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from aero_agent.data import example_path
from aero_agent.errors import InvalidArgumentError, StoreFullError
from aero_agent.store.retention import StoredSession, StoreLimits, plan_removals
from aero_agent.store import SessionStore


def _ids(store: SessionStore) -> set[str]:
    return {info.id for info in store.list()}


def test_policy_removes_least_recently_used_finished_sessions_only():
    """Catches removing by age of creation or by list order instead of last use, removing an encoding session,
    and removing anything when the request cannot fit anyway."""
    sessions = [StoredSession("new", 10, 3.0, "ready"), StoredSession("old", 10, 1.0, "failed"),
                StoredSession("busy", 10, 0.0, "encoding"), StoredSession("mid", 10, 2.0, "ready")]
    assert plan_removals(sessions, StoreLimits(max_sessions=3), new_sessions=1) == ["old", "mid"]
    assert plan_removals(sessions, StoreLimits(max_store_bytes=25)) == ["old", "mid"]
    assert plan_removals(sessions, StoreLimits(max_sessions=4)) == []
    assert plan_removals(sessions, StoreLimits(max_sessions=2), keep={"old"}) == ["mid", "new"]
    with pytest.raises(StoreFullError, match="still encoding"):
        plan_removals(sessions, StoreLimits(max_sessions=1), new_sessions=1)


@pytest.mark.parametrize("limits", [{"max_sessions": 0}, {"max_store_bytes": -1}, {"max_sessions": 1.5},
                                    {"max_sessions": True}])
def test_limits_must_be_positive_integers(limits, tmp_path):
    """Catches accepting a limit that would empty the store or never apply (0, negative, fractional, bool)."""
    with pytest.raises(InvalidArgumentError):
        SessionStore(tmp_path, **limits)


def test_max_sessions_removes_the_least_recently_used_finished_session(engine, tmp_path: Path) -> None:
    """Catches ignoring max_sessions, removing the oldest-created instead of the least recently used, and
    counting only loaded sessions instead of every stored one."""
    store = SessionStore(tmp_path, engine=engine, max_sessions=2, max_loaded=1)
    first = store.open(example_path("jfk"))
    second = store.open(example_path("ami-short"))
    store.get(first.id).ask("Who is speaking?")  # first is now the more recently used
    third = store.open(example_path("jfk"))
    assert _ids(store) == {first.id, third.id}
    assert not (tmp_path / second.id).exists()
    reopened = SessionStore(tmp_path, engine=engine, max_sessions=2)  # a new process counts what is on disk
    fourth = reopened.open(example_path("ami-short"))
    assert len(_ids(reopened)) == 2 and fourth.id in _ids(reopened) and first.id not in _ids(reopened)


def test_an_encoding_session_is_never_removed_and_a_request_that_cannot_fit_is_refused(engine, tmp_path):
    """Catches removing a session that is still encoding to make room, and opening past the limit silently."""
    store = SessionStore(tmp_path, engine=engine, max_sessions=1)
    release = threading.Event()
    busy = store.open(example_path("jfk"), wait=False, progress=lambda p: release.wait(60))
    try:
        assert store.status(busy.id).status == "encoding"
        with pytest.raises(StoreFullError, match=r"2 sessions .* limits of 1 sessions.*encoding"):
            store.open(example_path("ami-short"))
        assert _ids(store) == {busy.id} and store.status(busy.id).status == "encoding"
    finally:
        release.set()
    assert store.wait(busy.id, timeout=60).status == "ready"
    replacement = store.open(example_path("ami-short"))  # finished now, so it may go
    assert _ids(store) == {replacement.id}


def test_max_store_bytes_makes_room_by_size_and_refuses_a_session_larger_than_the_limit(engine, tmp_path):
    """Catches ignoring max_store_bytes, removing more than needed, and keeping (or half-keeping) a session whose
    encoding alone exceeds the limit; the refused session stays listed as failed with the reason, nothing else goes."""
    probe = SessionStore(tmp_path / "probe", engine=engine)
    size = sum(p.stat().st_size for p in (tmp_path / "probe" / probe.open(example_path("jfk")).id).rglob("*"))
    store = SessionStore(tmp_path / "bounded", engine=engine, max_store_bytes=int(size * 1.5))
    first = store.open(example_path("jfk"))
    second = store.open(example_path("jfk"))
    assert _ids(store) == {second.id} and first.id not in _ids(store)
    tight = SessionStore(tmp_path / "bounded", engine=engine, max_store_bytes=size // 2)
    with pytest.raises(StoreFullError, match="bytes"):
        tight.open(example_path("jfk"))
    infos = {info.id: info for info in tight.list()}
    assert second.id in infos and infos[second.id].status == "ready"
    refused = [info for info in infos.values() if info.id != second.id]
    assert len(refused) == 1 and refused[0].status == "failed" and "bytes" in refused[0].error
    assert [p.name for p in (tmp_path / "bounded" / refused[0].id).iterdir()] == ["info.json"]
