"""Indexing a whole archive: audio hours per wall hour with 1 and 2 engine processes and with local Ray, Ray's
overhead against the process pool, a rerun with nothing left, library search latency, and kill -9 + rerun.

The archive is built from the speech clips of ``../shared/speech`` (never ``heldout/``): each recording joins
the clips in its own shuffled order, with short pauses, until it is as long as asked, so every file has
different bytes (no two are skipped as copies). Every run is a fresh ``aero-agent index`` process over the
same files into a fresh store, as a user would run it; the configurations alternate within one benchmark
(``--repeats``), and the figures to compare are the ratios of one run, since the machine is shared.

    python benchmarks/archive.py                # 30 recordings of 1-1.25 minutes
    python benchmarks/archive.py --quick        # 6 recordings of 20-40 s (a smoke run)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_SPEECH_DIR, REPO, header_lines, machine_info, snapshot_code, table, write_wav  # noqa: E402

QUERIES = ["the birds have feathers and can fly", "a storm wrecked the barn", "cards of spades and clubs",
           "who is the apostle of the middle classes", "the juice changes colour with acid",
           "a confused complaint against the wizard", "printed books and their predecessors",
           "the yellow lamps at nightfall"]


def build_archive(folder: Path, speech_dir: Path, count: int, min_s: float, max_s: float, seed: int = 7) -> float:
    """``count`` WAV recordings of ``min_s``-``max_s`` seconds from the speech clips; returns total seconds."""
    from aero_agent.audio import load_audio
    from aero_agent.evaluation import speech_clips

    clips = [load_audio(c.path).samples for c in speech_clips(speech_dir)]
    gap = np.zeros(8_000, dtype=np.float32)
    rng = random.Random(seed)
    total = 0.0
    for n in range(count):
        target = rng.uniform(min_s, max_s) * 16_000
        pieces: list[np.ndarray] = []
        length = 0
        while length < target:
            order = list(range(len(clips)))
            rng.shuffle(order)
            for i in order:
                pieces += [clips[i], gap]
                length += len(clips[i]) + len(gap)
                if length >= target:
                    break
        samples = np.concatenate(pieces)[: int(target)]
        path = folder / f"series{n % 3}" / f"recording_{n:03d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_wav(path, samples)
        total += len(samples) / 16_000
    return total


def _env(code: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(code), str(REPO)]), HF_HUB_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1")
    return env


def index_command(archive: Path, store: Path, workers: int, ray: bool) -> list[str]:
    cmd = [sys.executable, "-m", "aero_agent", "index", str(archive), "--store", str(store), "--workers",
           str(workers), "--json", "-q"]
    return cmd + (["--ray"] if ray else [])


def run_index(archive: Path, store: Path, workers: int, ray: bool, code: Path) -> dict:
    """One whole ``aero-agent index`` process; its summary with the process's wall time."""
    import resource

    started, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(index_command(archive, store, workers, ray), capture_output=True, text=True,
                          env=_env(code), cwd=str(REPO), timeout=6 * 3600)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    if proc.returncode not in (0, 1) or not proc.stdout.strip().startswith("{"):
        raise RuntimeError(f"index failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    summary = json.loads(proc.stdout)
    summary["process_s"], summary["cpu_s"] = wall, cpu_s
    return summary


def search_latency(store: Path, code: Path) -> dict:
    """Library search in a fresh process: the first query (embedder load, library built) and the median of
    the rest, over every session of the store."""
    script = f"""
import json, statistics, time, sys
from aero_agent.store import SessionStore
t = time.perf_counter(); store = SessionStore({str(store)!r}); opened = time.perf_counter() - t
t = time.perf_counter(); listed = len(store.list()); list_s = time.perf_counter() - t
queries = {QUERIES!r}
t = time.perf_counter(); store.search(queries[0], k=5); first = time.perf_counter() - t
times = []
for q in queries * 3:
    t = time.perf_counter(); hits = store.search(q, k=5); times.append(time.perf_counter() - t)
print(json.dumps({{"sessions": listed, "open_s": opened, "list_s": list_s, "first_s": first,
                  "median_s": statistics.median(times), "hits": len(hits)}}))
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=_env(code),
                          cwd=str(REPO), timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _done_rows(store: Path) -> list[tuple[str, str]]:
    try:
        with sqlite3.connect(store / "catalog.sqlite", timeout=10) as conn:
            return conn.execute("SELECT path, session_id FROM archive_files WHERE status = 'done'").fetchall()
    except sqlite3.Error:
        return []


def kill_and_rerun(archive: Path, store: Path, files: int, code: Path) -> dict:
    """Start a 2-worker run, ``kill -9`` it once a third of the files are done, rerun, and check the store:
    every file done once, no session published twice, none lost, no half-written folder."""
    import psutil

    run = subprocess.Popen(index_command(archive, store, 2, False), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=_env(code), cwd=str(REPO))
    while run.poll() is None and len(_done_rows(store)) < max(1, files // 3):
        time.sleep(0.5)
    children = psutil.Process(run.pid).children(recursive=True) if run.poll() is None else []
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    _, orphans = psutil.wait_procs(children, timeout=30)
    for proc in orphans:
        proc.kill()
    before = dict(_done_rows(store))
    rerun = run_index(archive, store, 2, False, code)
    after = dict(_done_rows(store))
    folders = {p.name for p in store.iterdir() if p.is_dir() and (p / "info.json").is_file()}
    ready = sum(json.loads((store / f / "info.json").read_text())["status"] == "ready" for f in folders)
    staging = list((store / ".staging").glob("*")) if (store / ".staging").is_dir() else []
    return {"done_before_kill": len(before), "done_in_rerun": len(rerun["done"]), "skipped_in_rerun": rerun["skipped"],
            "files": files, "all_done": len(after) == files, "sessions": len(folders), "ready": ready,
            "kept": all(after.get(p) == s for p, s in before.items()), "orphan_workers": len(orphans),
            "staging_left": len(staging), "redone": len(before) + len(rerun["done"]) - files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH_DIR)
    parser.add_argument("--files", type=int, default=30)
    parser.add_argument("--min-s", type=float, default=60.0)
    parser.add_argument("--max-s", type=float, default=75.0)
    parser.add_argument("--quick", action="store_true", help="6 files of 20-40 s")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of the alternating configurations")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--rerun-only", action="store_true",
                        help="index once with 1 process, then time only the reruns and the library search")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here too")
    args = parser.parse_args()
    if args.quick:
        args.files, args.min_s, args.max_s = 6, 20.0, 40.0
    if "heldout" in str(args.speech_dir):
        raise SystemExit("the held-out clips are never used for benchmarks")
    info = machine_info()
    print("\n".join(header_lines(info, " ".join(sys.argv))))
    print("the machine is shared with other work: compare the ratios within this run, not absolute times\n")
    work = Path(tempfile.mkdtemp(prefix="aero-archive-bench-"))
    try:
        code = snapshot_code(work / "code")  # every run indexes with the code as it was at the start
        archive = work / "archive"
        audio_s = build_archive(archive, args.speech_dir, args.files, args.min_s, args.max_s)
        print(f"archive: {args.files} recordings, {audio_s / 60:.1f} min of audio "
              f"({args.min_s / 60:.1f}-{args.max_s / 60:.1f} min each)\n")
        configs = [("1 process", 1, False), ("2 processes", 2, False)] + ([] if args.skip_ray else [("Ray local, 2 actors", 2, True)])
        if args.rerun_only:
            configs = configs[:1]
        results: dict[str, list[dict]] = {name: [] for name, _, _ in configs}
        stores: dict[str, Path] = {}
        for round_no in range(args.repeats):
            for name, workers, ray in configs:
                store = work / f"store-{round_no}-{workers}-{int(ray)}"
                summary = run_index(archive, store, workers, ray, code)
                if summary["failed"] or len(summary["done"]) != args.files:
                    raise RuntimeError(f"{name}: {summary['failed']}")
                results[name].append(summary)
                stores[name] = store
                print(f"  round {round_no + 1}, {name}: {summary['process_s']:.1f} s, load {os.getloadavg()[0]:.1f}",
                      flush=True)
        base = statistics.median(s["process_s"] for s in results[configs[min(1, len(configs) - 1)][0]])
        rows = []
        for name, _, _ in configs:
            wall = statistics.median(s["process_s"] for s in results[name])
            cpu = statistics.median(s["cpu_s"] for s in results[name])
            rows.append([name, f"{wall:.1f}", f"{cpu:.1f}", f"{audio_s / wall:.1f}", f"{wall / base:.2f}"])
        print("\n" + table(["configuration", "wall s (whole process)", "CPU s", "audio h per wall h", "x 2 processes"],
                           rows))
        reruns = [run_index(archive, stores["1 process"], 1, False, code) for _ in range(5)]
        rerun_times = [r["process_s"] for r in reruns]
        rerun_cpu = statistics.median(r["cpu_s"] for r in reruns)
        search = search_latency(stores["1 process"], code)
        if args.rerun_only:
            print(f"\nrerun with nothing left ({args.files} files, whole process): wall median "
                  f"{statistics.median(rerun_times):.2f} s of {', '.join(f'{t:.2f}' for t in rerun_times)}; CPU median "
                  f"{rerun_cpu:.2f} s (target under 2 s)")
            print(f"library search over {search['sessions']} sessions: first query {search['first_s']:.2f} s, "
                  f"then median {search['median_s'] * 1000:.1f} ms")
            return
        series = archive / "series0"  # a third of the archive is enough to kill a run mid-way and resume it
        kill = kill_and_rerun(series, work / "store-kill", len(list(series.glob("*.wav"))), code)
        print(f"\nrerun with nothing left ({args.files} files, whole process): median {statistics.median(rerun_times):.2f} s "
              f"of {', '.join(f'{t:.2f}' for t in rerun_times)}, CPU median {rerun_cpu:.2f} s (target under 2 s)")
        print(f"library search over {search['sessions']} sessions: first query {search['first_s']:.2f} s "
              f"(embedder load and library build), then median {search['median_s'] * 1000:.1f} ms; "
              f"opening the store {search['open_s'] * 1000:.0f} ms, listing {search['list_s'] * 1000:.1f} ms")
        print(f"kill -9 after {kill['done_before_kill']} of {kill['files']} files, then rerun: rerun indexed "
              f"{kill['done_in_rerun']} and skipped {kill['skipped_in_rerun']}; all done: {kill['all_done']}; "
              f"sessions {kill['sessions']} ({kill['ready']} ready); published before the kill kept: {kill['kept']}; "
              f"redone: {kill['redone']}; half-written left: {kill['staging_left']}; orphan workers: {kill['orphan_workers']}")
        print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.json:
            args.json.write_text(json.dumps({"machine": info, "audio_s": audio_s, "runs": results,
                                             "rerun_s": rerun_times, "search": search, "kill": kill}, indent=1))
        ok = kill["all_done"] and kill["kept"] and kill["redone"] <= 0 and kill["sessions"] == kill["files"]
        sys.exit(0 if ok else 1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
