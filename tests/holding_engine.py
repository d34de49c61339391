"""An engine wrapper that holds its encoding after the first progress report that carries segments.

It delegates everything to a real engine, so tests see the session while it is truly still encoding, with the
segments of its first finished batch, and release it when they are done looking.
"""

from __future__ import annotations

import threading
from typing import Any

from aero_agent.audio import AudioClip
from aero_agent.engines.base import EncodedAudio, EncodeProgress, ProgressFn


class HoldingEngine:
    """``engine`` with its ``encode`` paused (up to ``timeout_s``) once the first segments are reported."""

    def __init__(self, engine: Any, timeout_s: float = 120.0) -> None:
        self.inner = engine
        self.name, self.model_id, self.capabilities = engine.name, engine.model_id, engine.capabilities
        self.held = threading.Event()      # set while the encoding waits
        self.release = threading.Event()   # set by the test to let it finish
        self.timeout_s = timeout_s
        self.held_at: EncodeProgress | None = None

    def encode(self, clip: AudioClip, progress: ProgressFn | None = None) -> EncodedAudio:
        def report(p: EncodeProgress) -> None:
            if progress is not None:
                progress(p)  # the session records the partial segments first
            if p.segments and self.held_at is None:
                self.held_at = p
                self.held.set()
                self.release.wait(self.timeout_s)

        return self.inner.encode(clip, progress=report)

    def transcribe(self, encoded: EncodedAudio):
        return self.inner.transcribe(encoded)

    def answer(self, encoded: EncodedAudio, prompt: str, history: Any):
        return self.inner.answer(encoded, prompt, history)
