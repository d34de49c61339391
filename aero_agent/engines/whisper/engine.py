"""WhisperEngine: transcript-only engine over transformers' Whisper, with long-form batching."""

from __future__ import annotations

import copy
import os
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np
import torch

from aero_agent.audio import AudioClip
from aero_agent.engines.base import EncodedAudio, EncodeProgress, EngineCapabilities, EngineReply, ProgressFn
from aero_agent.engines.whisper.checkpoint import load_checkpoint
from aero_agent.engines.whisper.chunking import EnergyProfile, Window, pause_windows, uncovered_speech
from aero_agent.engines.whisper.decoding import DecoderRunner, SpecialTokens, greedy_decode, tokens_to_segments
from aero_agent.engines.whisper.features import SAMPLE_RATE, LogMel, pad_windows
from aero_agent.errors import CapabilityError
from aero_agent.results import Turn
from aero_agent.transcript import Segment, Transcript


def _encoder_dtype(choice: torch.dtype | str | None) -> torch.dtype:
    """``auto``: bfloat16 where the CPU has native bf16 dot products (AVX512-BF16/AMX), else float32.

    Measured on ../shared/speech, bfloat16 halves the encoder's matrix products at no cost in WER."""
    if isinstance(choice, torch.dtype):
        return choice
    if choice in (None, "auto"):
        native = bool(getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)())
        return torch.bfloat16 if native and os.environ.get("AERO_ENCODER_DTYPE", "auto") != "float32" else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[choice]


class WhisperEngine:
    """Transcribes with any Whisper checkpoint; by default the embedded offline ``tiny.en``.

    Long audio is cut at pauses into windows of at most 30 s, which go through the encoder and the
    decoder in batches of ``batch_size``; segment times come from Whisper's timestamp tokens.
    """

    name = "whisper"
    capabilities = EngineCapabilities(transcribe=True, timestamps=True, answer=False, describe=False)

    def __init__(self, model: str | None = None, batch_size: int = 16, threads: int | None = None,
                 decode_threads: int | None = 1, repair_rounds: int = 1,
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
    def _encode_batch(self, batch: Sequence[tuple[np.ndarray, Window]]) -> torch.Tensor:
        """Log-mel features and encoder states for up to ``batch_size`` windows (of any clips)."""
        t0 = time.perf_counter()
        features = self.mel(pad_windows([(samples, w.start, w.end) for samples, w in batch]))
        encoded = self.encoder(features.to(self.encoder_dtype)).last_hidden_state.float()
        self.timings["encoder"] += time.perf_counter() - t0
        return encoded

    @torch.inference_mode()
    def _decode_batch(self, batch: Sequence[tuple[np.ndarray, Window]], encoded: torch.Tensor) -> list[list[Segment]]:
        """Timed segments of each window, from greedy decoding of its encoder states."""
        t0 = time.perf_counter()
        tokens = greedy_decode(self.runner, encoded, self.special, [w.duration_s for _, w in batch])
        self.timings["decoder"] += time.perf_counter() - t0
        out = []
        for (_, window), seq in zip(batch, tokens):
            offset, end = window.start / SAMPLE_RATE, window.end / SAMPLE_RATE
            found = []
            for start, stop, ids in tokens_to_segments(seq, self.special, offset, end):
                text = self.tokenizer.decode(ids).strip()
                if text:
                    found.append(Segment(start=round(start, 2), end=round(min(stop, end), 2), text=text))
            out.append(found)
        return out

    def _run_batches(self, batches: list[list[tuple[np.ndarray, Window]]]) -> Iterator[list[list[Segment]]]:
        """Results of each batch, in order.

        With several batches the work is pipelined on two threads: the decoder (memory-bound, one core)
        works on batch k while the encoder (compute-bound, the other core) works on batch k+1. A single
        batch runs the encoder on all cores, then the decoder.
        """
        if len(batches) == 1:
            encoded = self._encode_batch(batches[0])
            with self._threads(self.decode_threads):
                yield self._decode_batch(batches[0], encoded)
            return
        with self._threads(1), ThreadPoolExecutor(1, thread_name_prefix="aero-decode") as decoder:
            pending: deque[Future[list[list[Segment]]]] = deque()
            try:
                for batch in batches:
                    encoded = self._encode_batch(batch)
                    while pending and pending[0].done():
                        yield pending.popleft().result()
                    pending.append(decoder.submit(self._decode_batch, batch, encoded))
                    if len(pending) > 1:  # keep at most one batch waiting for the decoder
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:
                for future in pending:
                    future.cancel()

    def transcribe_clips(self, clips: Sequence[AudioClip], progress: ProgressFn | None = None) -> list[Transcript]:
        """Transcribe several clips, batching their windows together; one transcript per clip.

        A second pass re-decodes any stretch of a window that still holds speech but that the first pass
        left without a segment (Whisper sometimes ends a window early), so no words are lost.
        """
        profiles = [EnergyProfile(c.samples) for c in clips]
        queue = [(k, w) for k, (c, p) in enumerate(zip(clips, profiles))
                 for w in pause_windows(c.samples, profile=p) if w.has_speech]
        found: list[list[Segment]] = [[] for _ in clips]
        done, total = 0, len(queue)
        with self._lock, self._threads():
            if progress is not None:
                progress(EncodeProgress(0, total, []))
            for round_no in range(1 + self.repair_rounds):
                retry: list[tuple[int, Window]] = []
                batches = [queue[i:i + self.batch_size] for i in range(0, len(queue), self.batch_size)]
                results = self._run_batches([[(clips[k].samples, w) for k, w in b] for b in batches])
                for batch, segments in zip(batches, results):
                    for (k, window), segs in zip(batch, segments):
                        found[k].extend(segs)
                        if round_no < self.repair_rounds:
                            retry += [(k, gap) for gap in
                                      uncovered_speech(profiles[k], window, [(s.start, s.end) for s in segs])]
                    done += len(batch)
                    for segs in found:
                        segs.sort(key=lambda s: s.start)
                    if progress is not None:
                        progress(EncodeProgress(done, max(total, done), list(found[0]) if len(clips) == 1 else []))
                queue, total = retry, total + len(retry)
                if not queue:
                    break
        return [Transcript(segments=segs, duration_s=round(c.duration_s, 3)) for c, segs in zip(clips, found)]

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
