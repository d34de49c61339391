"""WhisperEngine: transcript-only engine over transformers' Whisper, with long-form batching."""

from __future__ import annotations

import copy
import os
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np
import torch

from aero_agent.engines.base import EncodedAudio, EncodeProgress, EngineCapabilities, EngineReply, ProgressFn
from aero_agent.engines.whisper.checkpoint import load_checkpoint
from aero_agent.engines.whisper.chunking import EnergyProfile, Window, pause_windows, uncovered_speech
from aero_agent.engines.whisper.decoding import DecoderRunner, SpecialTokens, greedy_decode, tokens_to_segments
from aero_agent.engines.whisper.features import SAMPLE_RATE, LogMel, pad_windows
from aero_agent.errors import CapabilityError
from aero_agent.results import Turn
from aero_agent.transcript import Segment, Transcript

if TYPE_CHECKING:  # a type hint only: the engine imports without audio decoding
    from aero_agent.audio import AudioClip


def _encoder_dtype(choice: torch.dtype | str | None) -> torch.dtype:
    """``auto``: bfloat16 where the CPU has native bf16 dot products (AVX512-BF16/AMX), else float32.

    Measured on ../shared/speech, bfloat16 halves the encoder's matrix products at no cost in WER."""
    if isinstance(choice, torch.dtype):
        return choice
    if choice in (None, "auto"):
        native = bool(getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)())
        return torch.bfloat16 if native and os.environ.get("AERO_ENCODER_DTYPE", "auto") != "float32" else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[choice]


@dataclass
class Job:
    """One 30 s encoder window: a stretch of one clip, and the pass that produced it (0 first, 1 repair)."""

    clip: int
    window: Window
    audio: np.ndarray
    round: int = 0
    speech_end_s: float = 0.0

    @property
    def duration_s(self) -> float:
        return len(self.audio) / SAMPLE_RATE

    @classmethod
    def of(cls, clip: int, samples: np.ndarray, window: Window, profile: EnergyProfile, round_no: int = 0) -> "Job":
        return cls(clip, window, samples[window.start:window.end], round_no,
                   profile.last_speech_s(window.start, window.end))

    def place(self, start: float, end: float) -> tuple[float, float]:
        """A segment's times in the job as times in its clip."""
        lo, hi = self.window.start / SAMPLE_RATE, self.window.end / SAMPLE_RATE
        return min(start + lo, hi), min(end + lo, hi)


class WhisperEngine:
    """Transcribes with any Whisper checkpoint; by default the embedded offline ``tiny.en``.

    Long audio is cut at pauses into windows of at most 30 s, which go through the encoder and the
    decoder in batches of ``batch_size``; segment times come from Whisper's timestamp tokens.
    """

    name = "whisper"
    capabilities = EngineCapabilities(transcribe=True, timestamps=True, answer=False, describe=False)

    def __init__(self, model: str | None = None, batch_size: int = 8, threads: int | None = None,
                 decode_threads: int | None = 1, repair_rounds: int = 1, workers: int | None = None,
                 continue_early_ends: bool = True,
                 encoder_dtype: torch.dtype | str | None = "auto") -> None:
        checkpoint = load_checkpoint(model)
        self.model_id = checkpoint.model_id
        self.model = checkpoint.model
        self.tokenizer = checkpoint.tokenizer
        self.batch_size = max(1, batch_size)
        self.threads = threads
        self.repair_rounds = repair_rounds
        # A decoder step is many small, memory-bound operations: one thread avoids synchronisation
        # costs that swamp them, most of all when the cores are shared.
        self.decode_threads = decode_threads
        self.workers = max(1, workers or min(2, os.cpu_count() or 1))
        self.continue_early_ends = continue_early_ends
        self.mel = LogMel(self.model.config.num_mel_bins)
        self.encoder = self.model.model.encoder
        self.encoder_dtype = _encoder_dtype(encoder_dtype)
        if self.encoder_dtype != torch.float32:  # a copy: the float32 model stays as loaded
            self.encoder = copy.deepcopy(self.encoder).to(self.encoder_dtype)
        self.timings = {"encoder": 0.0, "decoder": 0.0}  # seconds spent, for benchmarks
        self.runner = DecoderRunner(self.model)
        english_only = self.model.config.vocab_size < 51865
        sot = checkpoint.token("<|startoftranscript|>")
        prompt = (sot,) if english_only else (sot, checkpoint.token("<|en|>"), checkpoint.token("<|transcribe|>"))
        no_ts = checkpoint.token("<|notimestamps|>")
        self.special = SpecialTokens(
            eot=checkpoint.token("<|endoftext|>"), sot_sequence=prompt, no_timestamps=no_ts,
            timestamp_begin=no_ts + 1, suppress=tuple(checkpoint.suppress_ids),
            suppress_begin=tuple(checkpoint.suppress_ids_begin))
        self._lock = threading.Lock()  # one encoding at a time: the two cores are shared

    def windows(self, samples: np.ndarray) -> list[Window]:
        """The pause-cut windows this engine decodes."""
        return pause_windows(samples)

    @torch.inference_mode()
    def _encode_batch(self, batch: Sequence[Job]) -> torch.Tensor:
        """Log-mel features and encoder states for up to ``batch_size`` jobs."""
        t0 = time.perf_counter()
        features = self.mel(pad_windows([job.audio for job in batch]))
        encoded = self.encoder(features.to(self.encoder_dtype)).last_hidden_state.float()
        self.timings["encoder"] += time.perf_counter() - t0
        return encoded

    @torch.inference_mode()
    def _decode_batch(self, batch: Sequence[Job], encoded: torch.Tensor) -> list[list[Segment]]:
        """Timed segments of each job, in clip time, from greedy decoding."""
        t0 = time.perf_counter()
        tokens = greedy_decode(self.runner, encoded, self.special, [job.duration_s for job in batch],
                               speech_end_s=[job.speech_end_s for job in batch] if self.continue_early_ends else None)
        self.timings["decoder"] += time.perf_counter() - t0
        out = []
        for job, seq in zip(batch, tokens):
            found = []
            for start, stop, ids in tokens_to_segments(seq, self.special, 0.0, job.duration_s):
                text = self.tokenizer.decode(ids).strip()
                if text:
                    t0_s, t1_s = job.place(start, stop)
                    found.append(Segment(start=round(t0_s, 2), end=round(t1_s, 2), text=text))
            out.append(found)
        return out

    def _run_batch(self, batch: Sequence[Job]) -> list[list[Segment]]:
        """Encode then decode one batch (the decoder on ``decode_threads`` when running alone)."""
        encoded = self._encode_batch(batch)
        if self.workers > 1 and torch.get_num_threads() == 1:
            return self._decode_batch(batch, encoded)
        with self._threads(self.decode_threads):
            return self._decode_batch(batch, encoded)

    def transcribe_clips(self, clips: Sequence[AudioClip], progress: ProgressFn | None = None) -> list[Transcript]:
        """Transcribe several clips, batching their windows together; one transcript per clip.

        Long audio runs on ``workers`` threads with one core each, every one encoding then decoding its
        own batch: the encoder is compute-bound and the decoder memory-bound, so two batches in flight
        keep both cores busy. Audio that fits one batch is encoded on all cores, then decoded.

        Any stretch of a window that still holds speech but got no segment (Whisper sometimes ends a
        window early) goes back into the queue as a window of its own, so no words are lost.
        """
        profiles = [EnergyProfile(c.samples) for c in clips]
        queue: deque[Job] = deque(
            Job.of(k, c.samples, w, p) for k, (c, p) in enumerate(zip(clips, profiles))
            for w in pause_windows(c.samples, profile=p) if w.has_speech)
        found: list[list[Segment]] = [[] for _ in clips]
        done, total = 0, len(queue)
        pending: deque[tuple[list[Job], Future[list[list[Segment]]]]] = deque()
        workers = 1 if len(queue) <= self.batch_size else self.workers
        with self._lock, self._threads(), ThreadPoolExecutor(workers, thread_name_prefix="aero-whisper") as pool:
            if workers > 1:
                torch.set_num_threads(1)  # one core per worker
            if progress is not None:
                progress(EncodeProgress(0, total, []))
            try:
                while queue or pending:
                    if queue and len(pending) < workers:
                        batch = [queue.popleft() for _ in range(min(self.batch_size, len(queue)))]
                        pending.append((batch, pool.submit(self._run_batch, batch)))
                        continue
                    batch, future = pending.popleft()
                    repairs = []
                    for job, segments in zip(batch, future.result()):
                        found[job.clip].extend(segments)
                        if job.round < self.repair_rounds:
                            gaps = uncovered_speech(profiles[job.clip], job.window, [(s.start, s.end) for s in segments])
                            repairs += [Job.of(job.clip, clips[job.clip].samples, g, profiles[job.clip], job.round + 1) for g in gaps]
                    queue.extend(repairs)
                    done, total = done + len(batch), total + len(repairs)
                    found[0].sort(key=lambda s: s.start)
                    if progress is not None:
                        progress(EncodeProgress(done, total, list(found[0]) if len(clips) == 1 else []))
            finally:
                for _, future in pending:
                    future.cancel()
        return [Transcript(segments=sorted(segs, key=lambda s: s.start), duration_s=round(c.duration_s, 3))
                for c, segs in zip(clips, found)]

    def encode(self, clip: AudioClip, progress: ProgressFn | None = None) -> EncodedAudio:
        """Transcribe the whole clip once; the transcript is what later turns read."""
        transcript = self.transcribe_clips([clip], progress)[0]
        return EncodedAudio(engine=self.name, model_id=self.model_id, duration_s=clip.duration_s,
                            transcript=transcript, meta={"segments": len(transcript.segments)})

    @contextmanager
    def _threads(self, count: int | None = None) -> Iterator[None]:
        previous = torch.get_num_threads()
        count = count or self.threads
        if count:
            torch.set_num_threads(count)
        try:
            yield
        finally:
            torch.set_num_threads(previous)

    def transcribe(self, encoded: EncodedAudio) -> Transcript:
        if encoded.transcript is None:
            raise CapabilityError("this session holds no transcript; open the audio again")
        return encoded.transcript

    def answer(self, encoded: EncodedAudio, prompt: str, history: Sequence[Turn]) -> EngineReply:
        raise CapabilityError(f"the whisper engine ({self.model_id}) transcribes but cannot answer questions")
