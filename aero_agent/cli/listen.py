"""``aero-agent listen``: live audio from stdin, a file or the microphone into a live session, printed as it
becomes final."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from typing import IO, Iterator

import numpy as np

from aero_agent.errors import CapabilityError
from aero_agent.live import LiveUpdate
from aero_agent.transcript import Segment
from aero_agent.vad import SAMPLE_RATE

READ_S = 4.0  # the most audio one read takes from a stream (whatever has arrived, up to this)
FILE_STEP_S = 1.0  # chunk size when a file is played as fast as possible


def stdin_chunks(stream: IO[bytes] | None = None, warn: IO[str] = sys.stderr) -> Iterator[np.ndarray]:
    """Raw s16le 16 kHz mono from a byte stream: each read takes whatever has arrived (so a slow decoder
    sees a longer chunk instead of a growing backlog); an odd byte waits for its partner."""
    fd = (stream or sys.stdin.buffer).fileno()
    carry = b""
    while True:
        data = os.read(fd, int(READ_S * SAMPLE_RATE) * 2)
        if not data:
            break
        data = carry + data
        whole = len(data) // 2 * 2
        carry = data[whole:]
        if whole:
            yield np.frombuffer(data[:whole], dtype="<i2")
    if carry:
        warn.write("aero-agent: the input ended on half a sample; that byte was dropped\n")


def file_chunks(path: str, realtime: bool) -> Iterator[np.ndarray]:
    """A file's samples, at its real pace with ``realtime`` (all that is due at each call), else in 1 s chunks."""
    from aero_agent.audio import load_audio

    samples = load_audio(path).samples
    if not realtime:
        step = int(FILE_STEP_S * SAMPLE_RATE)
        yield from (samples[i:i + step] for i in range(0, len(samples), step))
        return
    start, sent = time.monotonic(), 0
    while sent < len(samples):
        due = min(len(samples), int((time.monotonic() - start) * SAMPLE_RATE), sent + int(READ_S * SAMPLE_RATE))
        if due - sent < SAMPLE_RATE // 10:
            time.sleep(0.05)
            continue
        yield samples[sent:due]
        sent = due


def microphone_chunks() -> Iterator[np.ndarray]:
    """The default input device at 16 kHz mono, through the optional ``sounddevice`` package."""
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:
        raise CapabilityError("listening to the microphone needs the optional sounddevice package and PortAudio: "
                              "pip install 'aero-agent[mic]' (or pipe audio in: ffmpeg -i URL -f s16le -ac 1 "
                              f"-ar 16000 - | aero-agent listen -) [{exc}]") from exc
    try:
        sd.query_devices(kind="input")
    except Exception as exc:  # PortAudio raises its own error types
        raise CapabilityError(f"no audio input device found ({exc}); pipe audio in with 'aero-agent listen -'") from exc
    with sd.InputStream(samplerate=SAMPLE_RATE, channels=1, dtype="float32", blocksize=SAMPLE_RATE // 10) as mic:
        while True:
            data, _overflowed = mic.read(max(mic.read_available, SAMPLE_RATE // 10))
            yield np.ascontiguousarray(data[:, 0])


def segment_record(segment: Segment, final: bool = True) -> dict:
    """One segment as the JSON object ``listen --format jsonl`` prints (with word times)."""
    return {"start": segment.start, "end": segment.end, "text": segment.text, "final": final,
            "words": [[w.start, w.end, w.word] for w in segment.words or []]}


@dataclass
class Printer:
    """Final lines with times (and, on a terminal, the partial text rewritten in place), or JSON lines."""

    out: IO[str]
    fmt: str = "text"

    def __post_init__(self) -> None:
        self.tty = self.fmt == "text" and self.out.isatty()

    def show(self, update: LiveUpdate) -> None:
        for seg in update.final:
            if self.fmt == "jsonl":
                self.out.write(json.dumps(segment_record(seg), ensure_ascii=False) + "\n")
            else:
                erase = "\r\033[K" if self.tty else ""
                self.out.write(f"{erase}[{seg.start:8.2f} - {seg.end:8.2f}] {seg.text}\n")
        if self.tty and update.partial:
            tail = " ".join(s.text for s in update.partial)[-100:]
            self.out.write(f"\r\033[K... {tail}")
        self.out.flush()


def _stop_on_sigterm() -> None:
    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt
    try:
        signal.signal(signal.SIGTERM, stop)
    except ValueError:
        pass  # not the main thread: the caller handles stopping


def listen(session, chunks: Iterator[np.ndarray], printer: Printer, status: IO[str] = sys.stderr) -> None:
    """Feed ``chunks`` into the live ``session`` until they end or Ctrl-C/SIGTERM, then finish it so every
    word heard becomes final (nothing said is lost on an interrupt)."""
    _stop_on_sigterm()
    lagging = False
    status.write("aero-agent: listening (Ctrl-C to stop)\n")
    status.flush()
    try:
        for chunk in chunks:
            printer.show(session.feed(chunk))
            stats = session.live_stats
            if stats.lagging != lagging:
                lagging = stats.lagging
                status.write(f"aero-agent: {'decoding is behind' if lagging else 'caught up'}: step "
                             f"{stats.step_s:.1f} s, last decode {stats.last_decode_s:.2f} s\n")
    except KeyboardInterrupt:
        status.write("aero-agent: stopping; finishing what was said\n")
    finally:
        before = len(session.transcribe().segments)
        session.finish()
        printer.show(LiveUpdate(final=session.transcribe().segments[before:]))
