"""Partial results while a long recording is still encoding: segments of the finished batches, flagged."""

from __future__ import annotations

from pathlib import Path


from aero_agent.data import example_path
from aero_agent.store import SessionStore

from holding_engine import HoldingEngine


def test_partial_transcript_and_ask_while_encoding(engine, tmp_path: Path, monkeypatch) -> None:
    """Catches a partial transcript forced empty and ``metadata["partial"]`` dropped from an ask made while
    encoding: the encoding is held after its first batch (one window of the sonnet, batches of one) and the
    session must already hold that window's text, flagged incomplete."""
    monkeypatch.setattr(engine, "batch_size", 1)  # two windows, two batches: the first finishes alone
    holding = HoldingEngine(engine)
    store = SessionStore(tmp_path, engine=holding)
    session = store.open(example_path("sonnet"), wait=False)
    try:
        assert holding.held.wait(120), "the encoding never reported segments"
        assert holding.held_at.done < holding.held_at.total  # really held mid-way
        partial = session.transcribe()
        assert session.info.status == "encoding" and partial.complete is False
        assert partial.segments and "fairest creatures" in partial.text.lower()
        assert all(s.end <= 30.0 for s in partial.segments)  # only the first window so far
        hits = session.search("beauty's rose", k=1)
        assert hits and hits[0].start < 10
        answer = session.ask("What about beauty's rose?")
        assert answer.metadata["partial"] is True and "only that part was searched" in answer.metadata["note_partial"]
        assert answer.evidence and "rose" in answer.evidence[0].text.lower()
    finally:
        holding.release.set()
    info = store.wait(session.id, timeout=120)
    assert info.status == "ready"
    whole = store.get(session.id).transcribe()
    assert whole.complete and len(whole.segments) > len(partial.segments) and whole.segments[-1].end > 45
    assert "partial" not in store.get(session.id).ask("the glutton").metadata
    store.shutdown()
