"""The library: one search over every stored session, tags, old stores indexed lazily, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aero_agent import cli
from aero_agent.persistence import session_files as disk
from aero_agent.errors import InvalidArgumentError, SessionNotFoundError
from aero_agent.retrieval import HybridRetrieval
from aero_agent.store import SessionStore
from aero_agent.persistence.layout import VECTORS
from aero_agent.vectors import PassageVectors

from speech_data import SPEECH_DIR

RECORDINGS = {"jfk": "clips/jfk_inaugural_1961.wav", "hospital": "clips/fleurs_en_005.wav",
              "harvard": "clips/realpython_harvard.wav"}


@pytest.fixture(scope="module")
def library(tmp_path_factory, engine, embedder, speech_manifest) -> tuple[Path, dict[str, str]]:
    """A store holding three real recordings; name -> session id."""
    root = tmp_path_factory.mktemp("library")
    store = SessionStore(root, engine=engine, retrieval=HybridRetrieval(embedder))
    ids = {name: store.open(SPEECH_DIR / rel).id for name, rel in RECORDINGS.items()}
    store.shutdown()
    return root, ids


def _store(root: Path, engine, embedder) -> SessionStore:
    return SessionStore(root, engine=engine, retrieval=HybridRetrieval(embedder))


def test_library_finds_the_right_recording(library, engine, embedder) -> None:
    """Catches: hits without their session or source, a library that searches one session only, session_ids
    or tags filters ignored, unknown ids accepted."""
    root, ids = library
    store = _store(root, engine, embedder)
    for query, name in (("what should citizens offer to their nation", "jfk"),
                        ("the clinic isolated the sick person to stop contagion", "hospital"),
                        ("pickled food goes well with pork", "harvard")):
        top = store.search(query, k=3)[0]
        assert top.session_id == ids[name] and top.source.endswith(Path(RECORDINGS[name]).name), (query, top)
    only = store.search("what should citizens offer to their nation", k=5, session_ids=[ids["harvard"]])
    assert all(h.session_id == ids["harvard"] for h in only)
    with pytest.raises(SessionNotFoundError, match="snope"):
        store.search("nation", session_ids=[ids["jfk"], "snope"])
    for bad in ({"k": 0}, {"k": 101}, {"session_ids": "sabc"}, {"tags": []}):
        with pytest.raises(InvalidArgumentError):
            store.search("nation", **bad)
    with pytest.raises(InvalidArgumentError):
        store.search("")
    tags = store.status(ids["jfk"]).tags
    assert tags and store.status(ids["jfk"]).gist
    tagged = store.search("what should citizens offer to their nation", k=5, tags=[tags[0].upper()])
    assert tagged and {h.session_id for h in tagged} == {ids["jfk"]}


def test_old_store_is_indexed_lazily_and_closed_sessions_leave(library, engine, embedder, tmp_path) -> None:
    """Catches: a store made before embeddings existed failing (no vectors, no tags), vectors computed again
    on every search, a closed session still found."""
    import shutil

    root = tmp_path / "old"
    shutil.copytree(library[0], root)
    ids = library[1]
    for sid in ids.values():
        (root / sid / VECTORS).unlink()
        info = json.loads((root / sid / disk.INFO).read_text())
        info.pop("tags"), info.pop("gist")
        disk.write_json(root / sid / disk.INFO, info)
    store = _store(root, engine, embedder)
    assert store.search("pickled food goes well with pork", k=1)[0].session_id == ids["harvard"]
    assert all(disk.load_vectors(root / sid) is not None for sid in ids.values())
    assert store.status(ids["harvard"]).tags
    before = embedder.texts_embedded
    store.search("pickled food goes well with pork", k=1)
    assert embedder.texts_embedded - before == 1
    store.close(ids["harvard"])
    assert all(h.session_id != ids["harvard"] for h in store.search("pickled food goes well with pork", k=5))


def test_cli_search_over_a_store(library, capsys) -> None:
    """Catches: the CLI not reaching the library, bad input ending in a traceback instead of status 2."""
    root, ids = library
    assert cli.main(["search", "the clinic isolated the sick person to stop contagion", "--store", str(root),
                     "-k", "2", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["session_id"] == ids["hospital"] and hits[0]["source"].endswith("fleurs_en_005.wav")
    assert cli.main(["search", "nation", "--store", str(root), "--session", "snope"]) == 2
    assert "snope" in capsys.readouterr().err
