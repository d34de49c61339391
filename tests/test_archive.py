"""`aero-agent index` on real speech: index a folder, search it, rerun, resume after kill -9, a corrupt file
isolated, Ray in local mode, several writers on one store."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from speech_data import REPO, speech_file

from aero_agent.archive import EngineOptions, IndexOptions, MEDIA_EXTENSIONS, discover, run_index
from aero_agent.archive.job import RUN_LOCK
from aero_agent.archive.manifest import Manifest, Profile
from aero_agent.archive.plan import settle_publications
from aero_agent.archive.progress import Progress
from aero_agent.errors import StoreBusyError
from aero_agent.locks import FileLock

CLIPS = {"cards": "pocketsphinx_cards_005.wav", "birds": "fleurs_en_004.wav",
         "quilter": "librispeech_1272-128104-0000.wav"}
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}


def _archive(folder: Path, names: dict[str, str] = CLIPS, corrupt: bool = True) -> Path:
    """A small archive: real clips in nested folders, a corrupt file, a text file and a hidden file."""
    for n, (key, clip) in enumerate(names.items()):
        target = folder / f"part{n % 2}" / f"{key}.wav"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(speech_file(clip), target)
    if corrupt:
        (folder / "part0" / "broken.wav").write_bytes(b"RIFF" + os.urandom(2000))
    (folder / "notes.txt").write_text("not a recording")
    (folder / ".hidden.wav").write_bytes(b"skipped")
    return folder


def _quiet() -> Progress:
    return Progress(0, 1, stream=io.StringIO())


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, engine):
    """One inline run over the small archive (the session's engine, no second model load)."""
    folder = _archive(tmp_path_factory.mktemp("archive"))
    store = tmp_path_factory.mktemp("store")
    lines = io.StringIO()
    bar = Progress(4, sum(p.stat().st_size for p in folder.rglob("*.wav") if not p.name.startswith(".")), lines)
    summary = run_index([folder], IndexOptions(store=store), progress=bar, engine=engine)
    return folder, store, summary, lines.getvalue()


def test_a_folder_is_indexed_and_searchable_as_one_library(indexed, engine) -> None:
    """Catches: files missed or taken that are not media, a corrupt file stopping the run or not reported,
    sessions without transcript, vectors or tags, the library search not finding them, no progress lines."""
    from aero_agent.store import SessionStore
    from aero_agent.persistence.layout import VECTORS

    folder, root, summary, lines = indexed
    assert summary.files == 4 and len(summary.done) == 3 and summary.skipped == 0
    assert [Path(f.path).name for f in summary.failed] == ["broken.wav"]
    assert "broken.wav" in summary.failed[0].reason and "decod" in summary.failed[0].reason
    assert summary.audio_hours * 3600 == pytest.approx(3.502 + 4.32 + 5.855, abs=0.1)
    assert "4/4 files" in lines and "real time" in lines and "| failed: " in lines and "broken.wav" in lines
    store = SessionStore(root, engine)
    infos = {Path(i.source).stem: i for i in store.list()}
    assert set(infos) == set(CLIPS) and all(i.status == "ready" and i.tags for i in infos.values())
    assert all((root / i.id / VECTORS).is_file() for i in infos.values())
    hit = store.search("the birds have feathers and fly", k=1)[0]
    assert hit.session_id == infos["birds"].id and "feathers" in hit.text
    assert store.find(folder / "part0" / "cards.wav").id == infos["cards"].id
    assert not any(s.speaker for s in store.get(infos["cards"].id).transcribe().segments)


def test_speakers_when_asked(tmp_path, engine) -> None:
    """Catches: --speakers not labelling the stored transcript, or not recorded, so that a rerun without it
    would redo the file or a rerun with it would not."""
    from aero_agent.store import SessionStore

    folder = _archive(tmp_path / "archive", {"birds": CLIPS["birds"]}, corrupt=False)
    root = tmp_path / "store"
    with_speakers = IndexOptions(store=root, engine=EngineOptions(speakers=True))
    summary = run_index([folder], with_speakers, progress=_quiet(), engine=engine)
    assert len(summary.done) == 1
    segments = SessionStore(root, engine).get(summary.done[0].session_id).transcribe().segments
    assert segments and all(s.speaker == "SPEAKER_00" for s in segments)
    assert run_index([folder], IndexOptions(store=root), progress=_quiet()).skipped == 1


def test_rerun_skips_what_is_done_without_loading_a_model(indexed) -> None:
    """Catches: a rerun decoding or indexing again, or importing torch to decide there is nothing to do."""
    folder, root, _, _ = indexed
    code = ("import sys, json\nfrom aero_agent.cli import main\n"
            f"rc = main(['index', {str(folder)!r}, '--store', {str(root)!r}, '--json', '-q'])\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\nsys.exit(rc)\n")
    result = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    assert summary["skipped"] == 3 and summary["failed_before"] == 1 and not summary["done"]


def test_copies_are_skipped_by_content_and_failures_retried_on_request(indexed, tmp_path) -> None:
    """Catches: a copied or moved file indexed again, --retry-failed not retrying, the failure not kept."""
    folder, root, _, _ = indexed
    copy = tmp_path / "elsewhere" / "cards-copy.wav"
    copy.parent.mkdir()
    shutil.copyfile(folder / "part0" / "cards.wav", copy)
    summary = run_index([folder, copy], IndexOptions(store=root, retry_failed=True), progress=_quiet())
    assert summary.skipped == 4 and not summary.done
    assert [Path(f.path).name for f in summary.failed] == ["broken.wav"]
    rows = Manifest(root).entries()
    assert rows[str(copy.resolve())].session_id == rows[str((folder / "part0" / "cards.wav").resolve())].session_id


def test_one_run_per_store(indexed) -> None:
    """Catches: two runs on one store at once (each would index the same files)."""
    _, root, _, _ = indexed
    holder = FileLock(root / RUN_LOCK)
    assert holder.acquire(blocking=False)
    try:
        with pytest.raises(StoreBusyError, match="another aero-agent index run"):
            run_index([root], IndexOptions(store=root), progress=_quiet())
    finally:
        holder.release()


def _sessions(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "info.json").is_file())


def test_killed_run_resumes_without_loss_or_repeat(tmp_path, engine) -> None:
    """Catches: a run killed with SIGKILL (two engine processes) leaving a torn or half-published session,
    orphan workers, the rerun repeating a published file or losing one, the catalog out of step."""
    import psutil

    from aero_agent.store import SessionStore

    clips = CLIPS
    folder = _archive(tmp_path / "archive", clips, corrupt=False)
    root = tmp_path / "store"
    run = subprocess.Popen([sys.executable, "-m", "aero_agent", "index", str(folder), "--store", str(root),
                            "--workers", "2", "-q"], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    done = 0
    while time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.2)
        try:
            with sqlite3.connect(root / "catalog.sqlite", timeout=5) as conn:
                done = conn.execute("SELECT COUNT(*) FROM archive_files WHERE status = 'done'").fetchone()[0]
        except sqlite3.Error:
            continue
        if done:
            break
    assert done and run.poll() is None, run.stderr.read().decode()[-2000:] if run.poll() is not None else "timeout"
    workers = psutil.Process(run.pid).children(recursive=True)
    os.kill(run.pid, signal.SIGKILL)
    run.wait(30)
    gone, alive = psutil.wait_procs(workers, timeout=30)
    for proc in alive:
        proc.kill()
    assert not alive, "engine processes outlived the killed run"
    before = {p.name for p in _sessions(root)}
    summary = run_index([folder], IndexOptions(store=root), progress=_quiet(), engine=engine)
    assert not summary.failed and summary.skipped >= 1 and summary.skipped + len(summary.done) == len(clips)
    entries = Manifest(root).entries()
    assert len(entries) == len(clips) and all(e.status == "done" for e in entries.values())
    ids = [e.session_id for e in entries.values()]
    assert len(set(ids)) == len(clips) and before <= set(ids)  # nothing published before the kill is redone
    assert {p.name for p in _sessions(root)} == set(ids)  # and nothing half-done is left as a session
    assert not any((root / ".staging").glob("*"))
    store = SessionStore(root, engine)
    assert sorted(i.id for i in store.list()) == sorted(ids)
    assert all(store.get(i).transcribe().text for i in ids)


def test_a_publication_cut_short_is_settled(indexed, tmp_path) -> None:
    """Catches: a run killed between publishing a session and recording it, leaving the file to be done twice
    (published) or marked done without a session (not yet published)."""
    _, source_root, _, _ = indexed
    root = tmp_path / "store"
    root.mkdir()
    sid = _sessions(source_root)[0].name
    shutil.copytree(source_root / sid, root / sid)
    manifest = Manifest(root)
    profile = Profile()
    manifest.record("/a.wav", 1, 1.0, "h1", profile, "publishing", sid, 3.0)
    manifest.record("/b.wav", 1, 1.0, "h2", profile, "publishing", "snotpublished", 3.0)
    (root / ".staging" / "snotpublished").mkdir(parents=True)
    assert settle_publications(manifest, root) == 2
    entries = manifest.entries()
    assert entries["/a.wav"].status == "done" and "/b.wav" not in entries
    assert entries["/a.wav"].serves(profile) and not entries["/a.wav"].serves(Profile(speakers=True))
    assert not (root / ".staging" / "snotpublished").exists()


def test_ray_local_run(tmp_path) -> None:
    """Catches: the Ray Data pipeline (decode map, actor-pool engine stage, single writer) not producing the
    same stored sessions, a bad file failing the whole Ray job."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'aero-agent[ray]')")
    from aero_agent.store import SessionStore

    folder = _archive(tmp_path / "archive", {"cards": CLIPS["cards"], "quilter": CLIPS["quilter"]})
    root = tmp_path / "store"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        summary = run_index([folder], IndexOptions(store=root, ray=True, workers=1), progress=_quiet())
    finally:
        ray.shutdown()
    assert summary.backend == "ray" and len(summary.done) == 2
    assert [Path(f.path).name for f in summary.failed] == ["broken.wav"]
    store = SessionStore(root)
    assert {Path(i.source).stem for i in store.list() if i.status == "ready" and i.tags} == {"cards", "quilter"}


WRITER = """
import sys, json, uuid
from pathlib import Path
from aero_agent.store import SessionStore
root, template, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
store = SessionStore(root)
files = {p.name: p.read_bytes() for p in template.iterdir() if p.is_file() and not p.name.startswith('.')}
for _ in range(count):
    info = json.loads(files['info.json'])
    info['id'] = 's' + uuid.uuid4().hex[:12]
    store.adopt({**files, 'info.json': json.dumps(info).encode()})
    assert info['id'] in {i.id for i in store.list()}
"""


def test_concurrent_writers_keep_the_store_whole(indexed, tmp_path, engine) -> None:
    """Catches: sessions lost or torn when processes publish into one store at once (catalog transactions,
    atomic renames), a catalog out of step with the folders."""
    from aero_agent.store import SessionStore

    _, source_root, _, _ = indexed
    template = _sessions(source_root)[0]
    root = tmp_path / "store"
    run = subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(template), "30"], env=ENV,
                           stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (root / "catalog.sqlite").exists() and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    here = SessionStore(root, engine)  # this process writes at the same time, through its own connection
    files = {p.name: p.read_bytes() for p in template.iterdir() if p.is_file() and not p.name.startswith(".")}
    for n in range(12):
        info = json.loads(files["info.json"])
        info["id"] = f"shere{n:02d}"
        here.adopt({**files, "info.json": json.dumps(info).encode()})
    assert run.wait(120) == 0, run.stderr.read().decode()[-2000:]
    store = SessionStore(root, engine)
    folders = {p.name for p in _sessions(root)}
    assert len(folders) == 42 and {i.id for i in store.list()} == folders
    assert all(store.status(sid).status == "ready" for sid in folders)


def test_another_process_encoding_is_not_marked_interrupted(indexed, tmp_path) -> None:
    """Catches: opening a store marking a session failed while another live process is still encoding it
    (its owner lock held), or not marking it once that process is gone."""
    from aero_agent.persistence.layout import OWNER_LOCK
    from aero_agent.store import SessionStore

    _, source_root, _, _ = indexed
    root = tmp_path / "store"
    template = _sessions(source_root)[0]
    shutil.copytree(template, root / template.name)
    info = json.loads((root / template.name / "info.json").read_text())
    info["status"] = "encoding"
    (root / template.name / "info.json").write_text(json.dumps(info))
    holder = ("import fcntl, os, sys\n"
              f"fd = os.open({str(root / template.name / OWNER_LOCK)!r}, os.O_RDWR | os.O_CREAT)\n"
              "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\nsys.stdin.read()\n")
    owner = subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout.readline().strip() == "held"
        assert SessionStore(root).status(template.name).status == "encoding"
    finally:
        owner.kill()  # as a crash would: the kernel drops its lock
        owner.wait(30)
    store = SessionStore(root)
    assert store.status(template.name).status == "failed" and store.interrupted == [template.name]


def test_discovery_and_names_kept_in_step(tmp_path) -> None:
    """Catches: the planner's copy of the media extensions or the CLI's engine names drifting from the core's,
    hidden or non-media files taken, --glob ignored."""
    from aero_agent import cli
    from aero_agent.audio import AUDIO_EXTENSIONS
    from aero_agent.engines import ENGINE_NAMES

    assert MEDIA_EXTENSIONS == AUDIO_EXTENSIONS and cli.ENGINE_NAMES == ENGINE_NAMES
    folder = tmp_path / "a"
    (folder / "deep" / ".git").mkdir(parents=True)
    for name in ("x.WAV", "deep/y.mp3", "deep/.git/z.wav", "notes.txt", ".h.wav"):
        (folder / name).write_bytes(b"1")
    assert [Path(f.path).name for f in discover([folder])] == ["y.mp3", "x.WAV"]
    assert [Path(f.path).name for f in discover([folder], ["*.txt"])] == ["notes.txt"]
