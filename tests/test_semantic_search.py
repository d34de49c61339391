"""Find by meaning inside one session: hybrid retrieval on real speech, filters, persistence of vectors."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from aero_agent.engines.base import EncodedAudio
from aero_agent.errors import InvalidArgumentError
from aero_agent.evaluation import join_clips, speech_clips
from aero_agent.passages import PassageOptions, build_passages
from aero_agent.retrieval import HybridRetrieval, LexicalRetrieval
from aero_agent.results import SessionInfo
from aero_agent.session import AudioSession
from aero_agent.store import SessionStore
from aero_agent.transcript import Segment, Transcript
from aero_agent.persistence import session_files as disk
from aero_agent.persistence.layout import VECTORS
from aero_agent.vectors import PassageVectors

from speech_data import SPEECH_DIR

CLIPS = ["jfk_inaugural_1961", "fleurs_en_003", "fleurs_en_004", "fleurs_en_005", "fleurs_en_006",
         "realpython_harvard"]
# paraphrase of fleurs_en_005 ("the hospital has followed protocol for infection control including separating
# the patient from others ...") that shares none of its content words
PARAPHRASE = "the clinic isolated the sick person to stop contagion"


@pytest.fixture(scope="module")
def joined_wav(tmp_path_factory, speech_manifest) -> tuple[Path, dict[str, tuple[float, float]]]:
    """Six real clips joined into one recording, and where each clip sits in it."""
    import soundfile as sf

    clips = [c for c in speech_clips(SPEECH_DIR) if c.id in CLIPS]
    recording = join_clips(clips, min_duration_s=sum(c.duration_s for c in clips))
    path = tmp_path_factory.mktemp("joined") / "joined.wav"
    sf.write(str(path), recording.samples, 16_000, subtype="PCM_16")
    return path, {cid: (a, b) for cid, a, b in recording.spans}


@pytest.fixture(scope="module")
def stored(joined_wav, engine, embedder, tmp_path_factory):
    """The joined recording opened once in a store (the module's one encoding of it), and that store."""
    store = SessionStore(tmp_path_factory.mktemp("semantic-store"), engine=engine, retrieval=HybridRetrieval(embedder))
    session = store.open(joined_wav[0])
    yield store, session
    store.shutdown()


@pytest.fixture(scope="module")
def session(stored) -> AudioSession:
    return stored[1]


def _inside(hit, span: tuple[float, float]) -> bool:
    return min(hit.end, span[1]) - max(hit.start, span[0]) >= 0.5 * min(hit.end - hit.start, span[1] - span[0])


def test_paraphrase_found_by_hybrid_and_missed_by_bm25(session: AudioSession, joined_wav) -> None:
    """Catches: the dense ranker dropped from the fusion (or a zero embedding weight): BM25 alone misses the
    paraphrase, so the hybrid must owe its top hit to the embeddings."""
    spans = joined_wav[1]
    hits = session.search(PARAPHRASE, k=3)
    assert hits and _inside(hits[0], spans["fleurs_en_005"]), hits
    lexical = AudioSession(session.info.model_copy(), session.engine, session.encoded, retrieval=LexicalRetrieval())
    assert not any(_inside(h, spans["fleurs_en_005"]) and h.label == "strong" for h in lexical.search(PARAPHRASE, k=3))
    # the lexical control still ranks first in the hybrid
    assert _inside(session.search("cold dip restores health and zest", k=1)[0], spans["realpython_harvard"])


def test_hits_are_passages_with_true_times_and_filters(session: AudioSession, joined_wav) -> None:
    """Catches: hit times not taken from the segments (a window reporting its first segment's end), a time range
    filter ignored, overlapping hits returned twice, bad k or query accepted."""
    segments = session.transcribe().segments
    starts, ends = {s.start for s in segments}, {s.end for s in segments}
    hits = session.search("what did the hospital and the officials say", k=5)
    assert hits and all(h.start in starts and h.end in ends for h in hits)
    assert any(h.end - h.start > max(s.end - s.start for s in segments) for h in
               session.search("feathers dinosaurs hospital infection", k=5)), "windows of segments are indexed"
    for a in hits:
        for b in hits:
            assert a is b or a.end <= b.start or b.end <= a.start, "hits must point at different places"
    clinic = joined_wav[1]["fleurs_en_005"]
    early = session.search(PARAPHRASE, k=5, end_s=clinic[0] - 1)
    assert all(h.start < clinic[0] - 1 for h in early)
    assert not any(_inside(h, clinic) and h.label == "strong" for h in early)  # weak fillers may straddle it
    with pytest.raises(InvalidArgumentError, match="outside the audio"):
        session.search(PARAPHRASE, start_s=10_000)
    for bad in (0, 101, True, "3"):
        with pytest.raises(InvalidArgumentError):
            session.search(PARAPHRASE, k=bad)  # type: ignore[arg-type]
    for query in ("", "  ", "x" * 8_001):
        with pytest.raises(InvalidArgumentError):
            session.search(query)


def test_ask_without_reasoner_uses_the_search_evidence(session: AudioSession) -> None:
    """Catches: the offline ask ranking with a different (BM25-only) index than search."""
    answer = session.ask(PARAPHRASE)
    top = session.search(PARAPHRASE, k=3)
    assert answer.method == "transcript-evidence"
    assert [(e.start, e.end) for e in answer.evidence] == [(h.start, h.end) for h in top]


def test_speaker_filter_keeps_whole_passages_of_that_speaker(session: AudioSession, embedder) -> None:
    """Catches: windows that cross a change of speaker, a speaker filter ignored, an unknown speaker accepted."""
    labelled = [s.model_copy(update={"speaker": "SPEAKER_00" if s.start < 25 else "SPEAKER_01"})
                for s in session.transcribe().segments]
    transcript = Transcript(segments=labelled, duration_s=session.info.duration_s)
    encoded = EncodedAudio(engine="whisper", model_id=session.info.model_id, duration_s=transcript.duration_s,
                           transcript=transcript)
    info = SessionInfo(id="sdiarized", source="x.wav", duration_s=transcript.duration_s, engine="whisper",
                       model_id=session.info.model_id, status="ready")
    diarized = AudioSession(info, session.engine, encoded, retrieval=HybridRetrieval(embedder))
    assert all(len({s.speaker for s in labelled[p.first:p.last + 1]}) == 1 for p in build_passages(labelled))
    hits = diarized.search(PARAPHRASE, k=5, speaker="SPEAKER_00")
    assert hits and all(h.speaker == "SPEAKER_00" and h.end <= 25 + 30 for h in hits)
    assert diarized.ask(PARAPHRASE, speaker="SPEAKER_01").evidence[0].speaker == "SPEAKER_01"
    with pytest.raises(InvalidArgumentError, match="unknown speaker"):
        diarized.search(PARAPHRASE, speaker="SPEAKER_09")


def test_passage_windows_cover_adjacent_segments() -> None:
    """Catches: windows longer than the cap, a tail of the transcript left out of every window."""
    segments = [Segment(start=4.0 * i, end=4.0 * i + 3.5, text=f"word{i}") for i in range(20)]
    options = PassageOptions(window_s=20, max_window_s=30, stride_s=10)
    passages = build_passages(segments, options)
    windows = [p for p in passages if p.last > p.first]
    assert windows and all(p.end - p.start <= 30 for p in windows)
    assert windows[-1].last == 19 and {p.first for p in passages if p.first == p.last} == set(range(20))
    assert windows[0].text == " ".join(f"word{i}" for i in range(windows[0].first, windows[0].last + 1))


def test_store_restores_vectors_without_recomputing_and_rebuilds_corrupt_file(
        tmp_path, stored, engine, embedder, caplog) -> None:
    """Catches: vectors not saved or not restored (the follow-up search after a restart would embed every
    passage again), a corrupt vector file crashing search or staying corrupt. The restarts read a copy of the
    module store's session folder, as its store left it after a search."""
    store, opened = stored
    expected = opened.search(PARAPHRASE, k=3)
    saved = disk.load_vectors(store.root / opened.id)
    assert saved is not None and len(saved) == len(build_passages(opened.transcribe().segments))
    folder = tmp_path / opened.id
    shutil.copytree(store.root / opened.id, folder)

    before = embedder.texts_embedded
    restored = SessionStore(tmp_path, engine=engine, retrieval=HybridRetrieval(embedder)).get(opened.id)
    assert restored.search(PARAPHRASE, k=3) == expected
    assert embedder.texts_embedded - before == 1, "a restored session's search costs one query embedding"

    (folder / VECTORS).write_bytes(b"\x00garbage, not safetensors")
    with caplog.at_level(logging.WARNING, logger="aero_agent.persistence"):
        again = SessionStore(tmp_path, engine=engine, retrieval=HybridRetrieval(embedder))
        session = again.get(opened.id)
        assert session.search(PARAPHRASE, k=3) == expected
    assert any("corrupt" in r.getMessage() for r in caplog.records)
    again.save(opened.id)
    fixed = disk.load_vectors(folder)
    assert fixed is not None and len(fixed) == len(saved)
    np.testing.assert_allclose(fixed.matrix_for(build_passages(session.transcribe().segments), embedder),
                               saved.matrix_for(build_passages(session.transcribe().segments), embedder), atol=1e-5)
    shutil.rmtree(tmp_path, ignore_errors=True)
