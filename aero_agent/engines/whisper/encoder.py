"""Whisper's encoder on windows shorter than 30 s, for live decoding.

Whisper was trained on 30 s windows (transformers' encoder refuses anything else), but the encoder itself is
two convolutions, learned positions and self-attention: cut the positions to the input's length and it runs on
a shorter window at a proportionally lower cost. Offline transcription keeps the 30 s windows (padding to 30 s
is what the model knows best); live decoding, which re-encodes a buffer of a few seconds every second, pays for
30 s each time otherwise.
"""

from __future__ import annotations

import numpy as np
import torch

from aero_agent.engines.whisper.features import HOP, SAMPLE_RATE, WINDOW_SAMPLES, pad_windows

ENCODER_STRIDE = 2 * HOP  # samples per encoder frame (the second convolution halves the mel frames)
TAIL_S = 2.0
"""Padding always left after the longest piece: on a window its speech fills to the end, Whisper repeats its
last sentences or ends early (measured on ../shared/speech clips, see BENCHMARKS.md)."""


def window_samples(pieces: list[np.ndarray], min_s: float | None) -> int:
    """Samples each window of a batch is padded to: 30 s, or with ``min_s`` the longest piece and ``TAIL_S``
    of padding (at least ``min_s`` in all), rounded up to a whole encoder frame."""
    if min_s is None:
        return WINDOW_SAMPLES
    longest = max(max(len(p) for p in pieces) + int(TAIL_S * SAMPLE_RATE), int(min_s * SAMPLE_RATE))
    return min(WINDOW_SAMPLES, -(-longest // ENCODER_STRIDE) * ENCODER_STRIDE)


def pad_batch(pieces: list[np.ndarray], min_s: float | None) -> torch.Tensor:
    """The batch's samples zero-padded to :func:`window_samples`."""
    return pad_windows(pieces)[:, :window_samples(pieces, min_s)]


def encode(encoder: torch.nn.Module, features: torch.Tensor) -> torch.Tensor:
    """Encoder states (batch, frames, d_model) of log-mel ``features`` (batch, n_mels, frames) of any length
    up to 30 s (see :class:`~aero_agent.engines.whisper.net.Encoder`)."""
    return encoder(features)
