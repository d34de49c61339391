"""Live transcription through the CLI at real-time pace: final-text latency, CPU share, WER next to offline.

A few minutes of real read speech (clips of ../shared/speech joined with short pauses) are written, at the
wall-clock rate in 100 ms chunks, into ``aero-agent listen - --format jsonl``. Each word's latency is the wall
time from the moment its audio (up to its end time) had been written to the moment its final line was read
back. CPU share is the listener's user+system CPU time while streaming (model load excluded: counting starts
when it says it is listening) over the wall time, as a fraction of two cores. The offline transcript of the
same audio (the engine on the whole recording) is made afterwards, in this process, for the WER comparison.

Each ``--variant`` (extra ``listen`` arguments, e.g. ``"--window 30"``) streams the same recording; variants
run alternately, ``--repeat`` rounds, and each row shows its median latency as a ratio to the first variant's
in the same round. The load average is printed with each row: on a shared machine latency is pessimistic.

    python benchmarks/live.py --seconds 180 --variant "" --variant "--window 30"
    python benchmarks/live.py --isa avx2 ...   # held to AVX2 on an AVX-512 machine (the header says so)

``--simulate OPTIONS`` (repeatable) streams the recording through the live processor in this process, on a
virtual clock where audio arrives at real pace and each feed takes the CPU time it used: the CPU seconds per
second of audio (which says whether a configuration keeps up on two cores) and the latency it would have on an
idle machine, measurable while the machine is shared. OPTIONS are LiveOptions changes, e.g. ``window_s=15``.

``--decode-cost`` instead times one decode of a rolling buffer in-process (the live path's engine, 10 s encoder
window next to Whisper's 30 s, alternately), for buffers of a few lengths cut from the same recording: a ratio
that a busy machine distorts far less than it distorts streaming latency.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aero_agent.evaluation import join_clips, speech_clips, word_error_rate  # noqa: E402

RATE = 16_000
CHUNK_S = 0.1


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stream(samples, cmd: list[str]) -> dict:
    """Feed ``samples`` to the listener at real pace; collect each final line with the wall time it arrived.

    Each 100 ms chunk is due at the wall time its audio ends (as a microphone delivers it); the pipe is made
    large enough (about 30 s of audio) that a listener busy decoding never holds the writer back, and how
    late the writer ever got is reported. CPU time is the listener's own (wait4), less what it used before
    it said it was listening (the model load)."""
    pcm = (samples.clip(-1, 1) * 32767).astype("<i2").tobytes()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        import fcntl

        fcntl.fcntl(proc.stdin.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except OSError:
        pass  # the default 64 KiB pipe (2 s of audio): the writer's lateness column shows if it mattered
    while b"listening" not in proc.stderr.readline():  # the engine is loaded
        if proc.poll() is not None:
            raise SystemExit(f"listener exited early: {proc.stderr.read().decode()}")
    stderr_lines: list[str] = []
    threading.Thread(target=lambda: stderr_lines.extend(l.decode() for l in proc.stderr), daemon=True).start()
    cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
    fed: list[tuple[float, float]] = []  # (audio seconds written so far, wall time that audio was due)
    late = [0.0]

    def writer() -> None:
        step = int(CHUNK_S * RATE) * 2
        for i in range(0, len(pcm), step):
            end = min(len(pcm), i + step) / 2 / RATE
            due = t0 + end
            time.sleep(max(0.0, due - time.monotonic()))
            proc.stdin.write(pcm[i:i + step])
            proc.stdin.flush()
            late[0] = max(late[0], time.monotonic() - due)
            fed.append((end, due))
        proc.stdin.close()
    feeder = threading.Thread(target=writer)
    feeder.start()
    rows = []
    for line in proc.stdout:
        rows.append((time.monotonic(), json.loads(line)))
    feeder.join()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    return {"rows": rows, "fed": fed, "cpu_s": usage.ru_utime + usage.ru_stime - cpu0, "wall_s": wall,
            "stderr": stderr_lines, "t0": t0, "writer_late_s": late[0],
            "exit_code": proc.returncode}


def latencies(rows, fed) -> list[float]:
    """Per final word: the wall time its line arrived minus the time the chunk holding its end was due."""
    import bisect

    audio_times = [a for a, _ in fed]
    out = []
    for arrived, row in rows:
        for _start, end, _word in row.get("words", []):
            k = min(bisect.bisect_left(audio_times, end), len(fed) - 1)
            out.append(arrived - fed[k][1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="length of the joined recording")
    parser.add_argument("--speech-dir", default=str(REPO.parent / "shared" / "speech"))
    parser.add_argument("--variant", action="append", default=None, help="extra listen arguments (repeatable)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds over the variants")
    parser.add_argument("--decode-cost", action="store_true", help="time single decodes in-process instead")
    parser.add_argument("--simulate", action="append", default=None, metavar="OPTIONS",
                        help="stream in-process on a CPU-time clock instead, with LiveOptions changes such as "
                             "'window_s=15 step_s=1.5' ('' for the defaults; repeatable)")
    parser.add_argument("--slowdown", type=float, default=1.0,
                        help="with --simulate: every CPU time counts this many times (a slower CPU, e.g. 1.5)")
    parser.add_argument("--half", choices=("tuning", "checking", "both"), default="both",
                        help="join clips of one half of benchmarks/split.json only (defaults are chosen on tuning)")
    parser.add_argument("--isa", choices=("native", "avx2"), default="native",
                        help="native: the CPU's own kernels; avx2: held to AVX2 (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA, "
                             "CT2_FORCE_CPU_ISA), as on a CPU without AVX-512 (this process and the listener)")
    args = parser.parse_args()
    hold_to(args.isa)
    joined = join_clips(half_clips(args.speech_dir, args.half), min_duration_s=args.seconds)
    print(f"clips: {args.half} half of benchmarks/split.json" if args.half != "both" else "clips: both halves",
          flush=True)
    if args.decode_cost:
        return decode_cost(joined)
    if args.simulate is not None:
        return simulate_all(joined, args.simulate, args.repeat, args.slowdown)

    from aero_agent.audio import load_audio
    from aero_agent.engines import default_engine

    engine = default_engine()
    t = time.perf_counter()
    offline = engine.transcribe_clips([load_audio(joined.samples, sample_rate=RATE)])[0]
    offline_s = time.perf_counter() - t
    off_wer = word_error_rate([joined.reference], [offline.text]).wer
    del engine
    print(f"offline: WER {off_wer:.2%} in {offline_s:.1f} s; audio {joined.duration_s:.1f} s", flush=True)
    print("| variant | load 1m | words | latency median | p90 | max | ratio to first | CPU share of 2 cores | "
          "stream wall | WER live | diff | lag reports | writer late |", flush=True)
    for _ in range(args.repeat):
        first = None
        for variant in args.variant or [""]:
            r = run_variant(joined, variant.split(), off_wer)
            first = first or r["latency_median_s"]
            print(f"| `{variant or 'defaults'}` | {r['load_average_1m']:.1f} | {r['words']} | {r['latency_median_s']} s"
                  f" | {r['latency_p90_s']} s | {r['latency_max_s']} s | {r['latency_median_s'] / first:.2f} | "
                  f"{r['cpu_share_of_2_cores']:.0%} | {r['stream_wall_s']} s | {r['wer_live']:.1%} | "
                  f"{r['wer_diff_points']:+.1f} | {r['lag_reports']} | {r['writer_late_s']} s |", flush=True)
            print(json.dumps(r), file=sys.stderr, flush=True)


def half_clips(speech_dir: str, half: str) -> list:
    """The speech clips of at least four words, of one half of the split (``both``: all, in manifest order)."""
    clips = speech_clips(speech_dir, min_words=4)
    if half == "both":
        return clips
    sys.path.insert(0, str(REPO / "benchmarks"))
    from split import half_of, load_split

    split = load_split()
    return [c for c in clips if half_of(c.id, "speech", split) == half]


def hold_to(isa: str) -> None:
    """Run this benchmark (and the listeners it starts) under ``isa``: the process starts itself again with the
    cap's variables set (or cleared) when they differ, as torch reads them once, on import; then prints the CPU."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from _common import isa_env, isa_line

    from aero_agent.engines.whisper.isa import CAP_VARIABLES

    wanted = isa_env(isa)
    if {k: os.environ[k] for k in CAP_VARIABLES if os.environ.get(k)} != wanted:
        env = {k: v for k, v in os.environ.items() if k not in CAP_VARIABLES} | wanted
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    print(isa_line(isa), flush=True)


def decode_cost(joined, lengths_s=(3.0, 6.0, 9.0, 12.0), rounds: int = 3) -> None:
    """Median wall time of one decode of buffers of ``lengths_s``, 10 s window against 30 s, alternately."""
    from aero_agent.audio import AudioClip
    from aero_agent.engines import default_engine
    from aero_agent.live import streaming_engine

    engine = default_engine()
    engines = {"10 s window": streaming_engine(engine, 10.0), "30 s window": streaming_engine(engine, None)}
    warm = AudioClip(joined.samples[:3 * RATE], "<bench>", RATE, 1)
    for eng in engines.values():
        eng.transcribe_clips([warm])
    print(f"load average {os.getloadavg()[0]:.1f}")
    print("| buffer | 10 s window | 30 s window | ratio 30/10 |")
    for length in lengths_s:
        starts = [10.0 + 13.0 * k for k in range(rounds)]
        clips = [AudioClip(joined.samples[int(t * RATE):int((t + length) * RATE)], "<bench>", RATE, 1) for t in starts]
        times: dict[str, list[float]] = {name: [] for name in engines}
        for clip in clips:
            for name, eng in engines.items():
                t = time.perf_counter()
                eng.transcribe_clips([clip])
                times[name].append(time.perf_counter() - t)
        short, full = (statistics.median(times[n]) for n in engines)
        print(f"| {length:.0f} s | {short:.2f} s | {full:.2f} s | {full / short:.2f} |", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}")


def live_options(text: str):
    """LiveOptions from ``"window_s=15 step_s=1.5"`` (numbers, or ``none``)."""
    from dataclasses import fields

    from aero_agent.live import LiveOptions

    ints = {f.name for f in fields(LiveOptions) if f.type == "int"}
    changes: dict[str, object] = {}
    for pair in text.split():
        key, value = pair.split("=", 1)
        changes[key] = None if value.lower() == "none" else int(value) if key in ints else float(value)
    return LiveOptions(**changes)


def simulate(joined, engine, options, slowdown: float = 1.0) -> dict:
    """Stream ``joined`` through an :class:`OnlineProcessor` in this process on a virtual clock where audio
    arrives at real pace and each ``feed`` takes as long as the CPU time it used (as on an otherwise idle
    machine, counting every thread's CPU as wall time: pessimistic on two cores). Each read takes all audio
    that has arrived, up to ``listen``'s read size, as ``listen -`` does; the step is paced on the same clock.
    Returns latency of each final word (virtual time it was final minus its end in the stream) and its parts
    (:func:`latency_parts`), the CPU time per second of audio, decode counts and the live text.

    ``slowdown`` multiplies every CPU time on that clock (the processor's own pacing included): a CPU that
    decodes that many times slower, e.g. an AVX2 laptop core against this one."""
    from aero_agent.cli.listen import READ_S
    from aero_agent.live import OnlineProcessor, _norm

    heard: list[tuple[float, list[tuple[str, float]]]] = []  # per decode: stream time, (word, start) it heard

    class Traced(OnlineProcessor):
        def _transcribe(self, clip):
            transcript = super()._transcribe(clip)
            base = self.offset / RATE
            heard.append((self.received / RATE, [(_norm(w.word), w.start + base) for s in transcript.segments
                                                 for w in s.words or []]))
            return transcript

    proc = Traced(engine, options)
    proc.clock = lambda: time.process_time() * slowdown
    samples, now, sent = joined.samples, 0.0, 0
    finals: list[tuple[object, float, float, int]] = []  # word, its audio's due time, time final, decodes so far
    texts: list[str] = []
    per_decode: list[float] = []
    cpu0 = time.process_time()

    def take(update) -> None:
        for seg in update.final:
            texts.append(seg.text)
            finals.extend((w, min(math.ceil(w.end / CHUNK_S) * CHUNK_S, joined.duration_s), now, len(heard))
                          for w in seg.words or [])
    while sent < len(samples):
        arrived = min(len(samples), int(now * RATE + 1e-6))  # (n / RATE) * RATE can fall short of n
        if arrived - sent < int(CHUNK_S * RATE) and arrived < len(samples):
            now = (sent + int(CHUNK_S * RATE)) / RATE  # idle until the next 100 ms chunk is written
            continue
        chunk = samples[sent:min(arrived, sent + int(READ_S * RATE))]
        decodes, c0 = proc.stats.decodes, time.process_time()
        update = proc.feed(chunk)
        spent = (time.process_time() - c0) * slowdown
        if proc.stats.decodes > decodes:
            per_decode.append(spent)
        now, sent = now + spent, sent + len(chunk)
        take(update)
    now = max(now, len(samples) / RATE)
    c0 = time.process_time()
    update = proc.finish()
    now += (time.process_time() - c0) * slowdown
    take(update)
    cpu = (time.process_time() - cpu0) * slowdown
    lat = sorted(final - due for _, due, final, _ in finals)
    return {"latency_median_s": round(statistics.median(lat), 2), "latency_p90_s": round(lat[int(0.9 * (len(lat) - 1))], 2),
            "latency_max_s": round(lat[-1], 2), "words": len(lat), "cpu_s": round(cpu, 1),
            "cpu_per_audio_s": round(cpu / joined.duration_s, 3), "decodes": proc.stats.decodes,
            "cpu_per_decode_s": round(statistics.median(per_decode), 3) if per_decode else 0.0,
            "skipped_silent": proc.stats.skipped_silent, "final_step_s": proc.stats.step_s,
            "base_step_s": proc.stats.base_step_s,
            "parts": latency_parts(finals, heard), "text": " ".join(texts)}


def latency_parts(finals, heard) -> dict[str, float]:
    """Mean latency of final words split four ways (seconds, stream time): ``wait`` from a word's end to the
    next decode; ``appear``, further decodes until one hears the word (same text, start within 0.3 s);
    ``agree``, from there to the decode that made it final (a second agreeing decode, or a pause); ``decode``,
    from that decode's audio end to when its feed returned (decode time and any backlog)."""
    import bisect

    from aero_agent.live import _norm

    times = [t for t, _ in heard]
    parts: dict[str, list[float]] = {"wait": [], "appear": [], "agree": [], "decode": []}
    for word, due, final, count in finals:
        commit = times[count - 1] if count else due
        nxt = min(times[bisect.bisect_left(times, due - 1e-6)] if times and times[-1] >= due - 1e-6 else commit,
                  commit)
        first = next((t for t, words in heard[:count] if t >= nxt and any(
            w == _norm(word.word) and abs(start - word.start) < 0.3 for w, start in words)), commit)
        for key, value in zip(parts, (nxt - due, first - nxt, commit - first, final - commit)):
            parts[key].append(value)
    return {key: round(statistics.mean(values), 2) if values else 0.0 for key, values in parts.items()}


def simulate_all(joined, variants: list[str], repeat: int, slowdown: float = 1.0) -> None:
    """One table row per LiveOptions variant and round, variants alternating; WER next to the offline text."""
    from aero_agent.audio import load_audio
    from aero_agent.engines import default_engine

    engine = default_engine()
    c0 = time.process_time()
    offline = engine.transcribe_clips([load_audio(joined.samples, sample_rate=RATE)])[0]
    off_wer = word_error_rate([joined.reference], [offline.text]).wer
    print(f"offline: WER {off_wer:.2%}, {time.process_time() - c0:.1f} CPU s; audio {joined.duration_s:.1f} s; "
          f"load {os.getloadavg()[0]:.1f}; live CPU times counted x{slowdown:g}", flush=True)
    print("| options | words | latency median | p90 | max | mean: wait, appear, agree, decode | CPU s per audio s | "
          "share of 2 cores | decodes | CPU s per decode | base step at the end | WER live | diff | load 1m |", flush=True)
    for _ in range(repeat):
        for variant in variants:
            load0 = os.getloadavg()[0]
            r = simulate(joined, engine, live_options(variant), slowdown)
            wer = word_error_rate([joined.reference], [r["text"]]).wer
            print(f"| `{variant or 'defaults'}` | {r['words']} | {r['latency_median_s']} s | {r['latency_p90_s']} s | "
                  f"{r['latency_max_s']} s | {', '.join(f'{v:.2f}' for v in r['parts'].values())} | "
                  f"{r['cpu_per_audio_s']:.3f} | {r['cpu_per_audio_s'] / 2:.0%} | "
                  f"{r['decodes']} | {r['cpu_per_decode_s']:.3f} | {r['base_step_s']:g} s | {wer:.2%} | "
                  f"{100 * (wer - off_wer):+.2f} | "
                  f"{(load0 + os.getloadavg()[0]) / 2:.1f} |", flush=True)


def run_variant(joined, extra: list[str], offline_wer: float) -> dict:
    """Stream the recording through one listener configuration; its latency, CPU share and WER."""
    load0 = os.getloadavg()[0]
    cmd = [sys.executable, "-m", "aero_agent", "listen", "-", "--format", "jsonl", *extra]
    run = stream(joined.samples, cmd)
    lat = sorted(latencies(run["rows"], run["fed"]))
    live_text = " ".join(r["text"] for _, r in run["rows"])
    live_wer = word_error_rate([joined.reference], [live_text]).wer
    p90 = lat[int(0.9 * (len(lat) - 1))] if lat else float("nan")
    lag_notes = [l.strip() for l in run["stderr"] if "behind" in l or "caught up" in l]
    return {
        "words": len(lat), "latency_median_s": round(statistics.median(lat), 2) if lat else float("nan"),
        "latency_p90_s": round(p90, 2), "latency_max_s": round(lat[-1], 2) if lat else None,
        "cpu_share_of_2_cores": round(run["cpu_s"] / run["wall_s"] / 2, 3), "stream_wall_s": round(run["wall_s"], 1),
        "wer_live": round(live_wer, 4), "wer_diff_points": round(100 * (live_wer - offline_wer), 2),
        "lag_reports": len(lag_notes), "writer_late_s": round(run["writer_late_s"], 2),
        "exit_code": run["exit_code"], "load_average_1m": round((load0 + os.getloadavg()[0]) / 2, 2),
    }


if __name__ == "__main__":
    main()
