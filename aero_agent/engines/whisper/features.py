"""Whisper log-mel features computed in torch, batched over 30 s windows."""

from __future__ import annotations

import numpy as np
import torch

SAMPLE_RATE = 16_000
N_FFT = 400
HOP = 160
WINDOW_SAMPLES = 30 * SAMPLE_RATE
WINDOW_FRAMES = WINDOW_SAMPLES // HOP


class LogMel:
    """The log-mel spectrogram Whisper was trained on (slaney mel filters, log10, 8 dB floor)."""

    def __init__(self, n_mels: int) -> None:
        from transformers.audio_utils import mel_filter_bank

        filters = mel_filter_bank(num_frequency_bins=1 + N_FFT // 2, num_mel_filters=n_mels, min_frequency=0.0,
                                  max_frequency=8000.0, sampling_rate=SAMPLE_RATE, norm="slaney", mel_scale="slaney")
        self.filters = torch.from_numpy(np.asarray(filters, dtype=np.float32)).T.contiguous()  # (n_mels, 201)
        self.window = torch.hann_window(N_FFT)

    def __call__(self, windows: torch.Tensor) -> torch.Tensor:
        """(batch, 480000) samples -> (batch, n_mels, 3000) features."""
        stft = torch.stft(windows, N_FFT, HOP, window=self.window, return_complex=True)
        power = stft[..., :-1].abs() ** 2
        mel = self.filters @ power
        log = torch.clamp(mel, min=1e-10).log10()
        log = torch.maximum(log, log.amax(dim=(-2, -1), keepdim=True) - 8.0)
        return (log + 4.0) / 4.0


def pad_windows(pieces: list[np.ndarray]) -> torch.Tensor:
    """Zero-pad each window's samples to 30 s (longer ones are cut)."""
    out = torch.zeros(len(pieces), WINDOW_SAMPLES)
    for i, samples in enumerate(pieces):
        piece = torch.from_numpy(np.ascontiguousarray(samples[:WINDOW_SAMPLES], dtype=np.float32))
        out[i, : len(piece)] = piece
    return out
