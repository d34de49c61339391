"""A session store written before the redesign (issue 27) loads unchanged: same info, transcript, history,
search hits and library hits (fields added since, with their defaults, are allowed), and loading and searching
leave its files as they were; saving writes back what they held.

``tests/data/store_v1`` was written by the release before the redesign: the bundled JFK clip opened with
speakers and asked one question, and a live session fed the same clip in one-second chunks, finished and asked
once; ``store_v1_expected.json`` holds what that release returned for them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from aero_agent.store import SessionStore

DATA = Path(__file__).parent / "data"
FILES = ("info.json", "transcript.json", "history.json", "encoded.json", "passages.safetensors")


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    shutil.copytree(DATA / "store_v1", root)
    return root


def _hits(hits: list) -> list[dict]:
    return [{**h.model_dump(), "score": round(h.score, 3)} for h in hits]


def _rounded(hits: list[dict]) -> list[dict]:
    return [{**h, "score": round(h["score"], 3)} for h in hits]


def _as_before(now: object, before: object) -> bool:
    """``now`` says everything ``before`` said (fields added later, with their defaults, are allowed)."""
    if isinstance(before, dict):
        return isinstance(now, dict) and all(k in now and _as_before(now[k], v) for k, v in before.items())
    if isinstance(before, list):
        return isinstance(now, list) and len(now) == len(before) and all(map(_as_before, now, before))
    return now == before


def _same_hits(now: list[dict], before: list[dict]) -> bool:
    """The hits the old release found, in its order; search now always answers, so any further hit must be one
    it labels weak (issue 25), never a new strong one."""
    return _as_before(now[:len(before)], before) and all(h["label"] == "weak" for h in now[len(before):])


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.glob("s*/*")) if p.name in FILES}


def test_old_store_loads_unchanged(old_store: Path, engine) -> None:
    expected = json.loads((DATA / "store_v1_expected.json").read_text("utf-8"))
    before = _files(old_store)
    store = SessionStore(old_store, engine)
    try:
        assert store.interrupted == []
        ids = sorted(k for k in expected if k != "library")
        assert sorted(i.id for i in store.list()) == ids
        for sid in ids:
            session = store.get(sid)
            want = expected[sid]
            assert _as_before(session.info.model_dump(), want["info"])
            assert _as_before(session.transcribe().model_dump(), want["transcript"])
            assert _as_before([t.model_dump() for t in session.history], want["history"])
            assert _same_hits(_hits(session.search("what you can do for your country", k=3)), _rounded(want["search"]))
        assert _same_hits(_hits(store.search("ask not what your country", k=4)), _rounded(expected["library"]))
        assert _files(old_store) == before  # reading wrote nothing
        for sid in ids:
            store.save(sid)
    finally:
        store.shutdown()
    after = _files(old_store)
    assert after.keys() == before.keys()
    for name in before:  # what a save writes again is what the old release wrote
        if name.endswith(".json"):
            assert _as_before(json.loads(after[name]), json.loads(before[name])), name
        else:
            assert after[name] == before[name], name
