"""Shared helpers for the benchmark scripts: machine header, memory probes, test audio, workers, tables.

Memory method (used by every benchmark here): each engine run happens in its own fresh Python
subprocess. Inside it, after the model is loaded and warmed up, the kernel's peak-RSS counter
(``VmHWM`` in ``/proc/self/status``) is reset by writing ``5`` to ``/proc/self/clear_refs``; the
peak read after the timed region is therefore the highest resident set size *during that run*
(model weights included, since they stay resident). Where the reset is not allowed the peak falls
back to ``ru_maxrss`` (process lifetime, load included) and the output says so.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SPEECH_DIR = REPO.parent / "shared" / "speech"
RESULT_MARK = "@@BENCH-RESULT@@ "

if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # last: a worker's PYTHONPATH may point at a snapshot of aero_agent first


# ----------------------------------------------------------------------------- machine


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


ISA_CHOICES = ("native", "avx2")
"""``--isa`` of the benchmarks: the CPU's own kernels, or torch, oneDNN and CTranslate2 held to AVX2."""


def isa_env(isa: str) -> dict[str, str]:
    """The environment a worker runs under for ``isa``: the AVX2 cap's variables, or none (native)."""
    from aero_agent.engines.whisper.isa import AVX2_CAP

    return dict(AVX2_CAP) if isa == "avx2" else {}


def isa_line(isa: str) -> str:
    """The header line naming the CPU, its vector extensions and whether the workers run capped."""
    from aero_agent.engines.whisper.isa import AVX2_CAP, cpu_flags

    model, flags = cpu_flags()
    mode = ("CAPPED to AVX2 (" + " ".join(f"{k}={v}" for k, v in AVX2_CAP.items()) + ")" if isa == "avx2"
            else "native (no cap)")
    return f"cpu: {model}; vector extensions: {' '.join(flags) or '-'}; engines run {mode}"


def machine_info() -> dict[str, Any]:
    """CPU, cores, RAM, library versions and the load average right now."""
    try:
        import psutil

        ram_gib = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        ram_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": ram_gib,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": {p: _version(p) for p in ("torch", "transformers", "ctranslate2", "faster-whisper",
                                              "onnxruntime", "numpy", "jiwer")},
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def header_lines(info: dict[str, Any], command: str) -> list[str]:
    v = info["versions"]
    load = info["loadavg"]
    lines = [
        (f"machine: {info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB RAM, {info['os']}, "
         f"Python {info['python']}"),
        "versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        (f"load average (1, 5, 15 min) at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        + ("   <- other processes are running: times are inflated" if load[0] > 0.5 * (info["cores"] or 1) else ""),
        f"date: {info['date']}",
        f"command: {command}",
    ]
    return lines


def snapshot_code(dest: Path) -> Path:
    """Copy the ``aero_agent`` package into ``dest`` and return ``dest``, for workers to import from.

    Other people edit the engines while a benchmark runs; every round then runs the same code: the
    code as it was when the benchmark started.
    """
    import shutil

    shutil.copytree(REPO / "aero_agent", dest / "aero_agent", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def code_fingerprint(*parts: str) -> str:
    """Short SHA-256 of the Python sources of the imported ``aero_agent`` package (only ``parts`` of it, paths
    relative to the package, when given): which code a worker really ran."""
    import hashlib

    import aero_agent

    root = Path(aero_agent.__file__).resolve().parent
    digest = hashlib.sha256()
    for part in parts or (".",):
        target = root / part
        for path in sorted(target.rglob("*.py")) if target.is_dir() else [target]:
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ----------------------------------------------------------------------------- memory


def _status_kib(field: str) -> float | None:
    try:
        match = re.search(rf"^{field}:\s+(\d+)\s+kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    except OSError:
        return None
    return float(match.group(1)) if match else None


def rss_mb() -> float:
    """Current resident set size, MiB."""
    kib = _status_kib("VmRSS")
    if kib is not None:
        return kib / 1024
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def peak_mb() -> float:
    """Peak resident set size since the process started or since the last :func:`reset_peak`, MiB."""
    kib = _status_kib("VmHWM")
    if kib is not None:
        return kib / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter to the current RSS; False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def cpu_s() -> float:
    """User + system CPU seconds used so far by this process (all its threads)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class PeakMeter:
    """``with PeakMeter() as m: ...`` then ``m.peak_mb`` is the peak RSS and ``m.cpu_s`` the CPU time of the block."""

    def __enter__(self) -> PeakMeter:
        self.exact = reset_peak()
        self.start_mb = rss_mb()
        self.cpu_start = cpu_s()
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak_mb = peak_mb()
        self.end_mb = rss_mb()
        self.cpu_s = cpu_s() - self.cpu_start

    @property
    def method(self) -> str:
        return "VmHWM reset per run" if self.exact else "ru_maxrss (process lifetime)"


# ----------------------------------------------------------------------------- audio


def speech_recording(speech_dir: Path, minutes: float, min_words: int = 1):
    """(clips, JoinedRecording): the speech clips, and them joined in order to at least ``minutes`` long."""
    from aero_agent.evaluation import join_clips, speech_clips

    clips = speech_clips(speech_dir, min_words=min_words)
    if not clips:
        raise SystemExit(f"no speech clips listed in {speech_dir / 'manifest.jsonl'}")
    return clips, join_clips(clips, min_duration_s=minutes * 60.0)


def write_wav(path: Path, samples) -> Path:
    """16-bit PCM mono 16 kHz WAV (the clips are 16-bit PCM, so this loses nothing)."""
    import soundfile as sf

    sf.write(str(path), samples, 16_000, subtype="PCM_16")
    return path


# ----------------------------------------------------------------------------- workers


def worker_env(threads: int, code_dir: Path | None = None, isa: str = "native") -> dict[str, str]:
    from aero_agent.engines.whisper.isa import CAP_VARIABLES

    env = {k: v for k, v in os.environ.items() if k not in CAP_VARIABLES} | isa_env(isa)
    env.update({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
                "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1"})
    pythonpath = ([str(code_dir)] if code_dir else []) + [str(REPO)]
    pythonpath += [env["PYTHONPATH"]] if env.get("PYTHONPATH") else []
    env["PYTHONPATH"] = os.pathsep.join(pythonpath)
    return env


def run_worker(script: Path, payload: dict[str, Any], threads: int, timeout: float | None = None,
               code_dir: Path | None = None, isa: str = "native") -> dict[str, Any]:
    """Run ``script --worker JSON`` in a fresh interpreter (importing ``aero_agent`` from ``code_dir`` when
    given; capped to AVX2 when ``isa`` says so) and return the JSON result it prints."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(script), "--worker", json.dumps(payload)], check=False,
                          capture_output=True, text=True, env=worker_env(threads, code_dir, isa), timeout=timeout,
                          cwd=str(REPO))
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            result = json.loads(line[len(RESULT_MARK):])
            result["process_s"] = round(time.perf_counter() - started, 3)
            return result
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-25:])
    raise RuntimeError(f"worker {payload.get('config', payload)} failed (exit {proc.returncode}):\n{tail}")


def kernels() -> str:
    """In a worker: the kernels it ran (``native AVX512``, ``capped AVX2``; CTranslate2 alone: ``native``
    or ``capped AVX2`` by its variable), for the tables' rows."""
    if "torch" not in sys.modules:
        cap = os.environ.get("CT2_FORCE_CPU_ISA")
        return f"capped {cap}" if cap else "native"
    from aero_agent.engines.whisper.isa import cpu_isa

    isa = cpu_isa()
    return f"{'capped' if isa.capped else 'native'} {isa.capability}"


def emit_result(result: dict[str, Any]) -> None:
    """What a worker prints last: one marked JSON line that :func:`run_worker` reads."""
    sys.stdout.write(RESULT_MARK + json.dumps(result) + "\n")
    sys.stdout.flush()


# ----------------------------------------------------------------------------- output


def median(values: Iterable[float]) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], markdown: bool = True) -> str:
    """A Markdown table (also readable as plain text); first column left-aligned, the rest right."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        return "| " + " | ".join(parts) + " |"

    sep = "|" + "|".join([":" + "-" * (widths[0] + 1)] + ["-" * (w + 1) + ":" for w in widths[1:]]) + "|"
    return "\n".join([line(cells[0]), sep] + [line(r) for r in cells[1:]])


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def write_json(path: str | Path | None, data: Any) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(data, indent=2) + "\n")
