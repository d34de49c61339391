"""Whisper's own checks on a decoded window, the second line after voice activity: a window that reads as
silence, that the decoder was unsure of, or whose text repeats itself is a hallucination and is dropped."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from aero_agent.engines.whisper.decoding import Decoded


def compression_ratio(text: str) -> float:
    """Length of the text over its zlib-compressed length: loops of repeated phrases compress well."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


@dataclass(frozen=True)
class GuardOptions:
    """Thresholds as openai-whisper and faster-whisper use them (their defaults)."""

    no_speech_threshold: float = 0.6
    logprob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4

    def accepts(self, decoded: Decoded, text: str, doubtful: bool) -> bool:
        """Whether to keep a window's text.

        A window of detected speech is dropped, as Whisper drops it, when it both reads as silence and was
        decoded with low confidence, or when it loops. A doubtful window (sound the detector did not take for
        speech) must pass each test on its own."""
        if not text.strip() or compression_ratio(text) > self.compression_ratio_threshold:
            return False
        silent = decoded.no_speech_prob > self.no_speech_threshold
        unsure = decoded.avg_logprob < self.logprob_threshold
        return not (silent or unsure) if doubtful else not (silent and unsure)
