"""Whisper log-mel features computed in torch, batched over 30 s windows."""

from __future__ import annotations

import numpy as np
import torch

SAMPLE_RATE = 16_000
N_FFT = 400
HOP = 160
WINDOW_SAMPLES = 30 * SAMPLE_RATE
WINDOW_FRAMES = WINDOW_SAMPLES // HOP


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default, Whisper's): linear to 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = 3.0 * hz / 200.0
    return np.where(hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) * (27.0 / np.log(6.4)), linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= 15.0, 1000.0 * np.exp(np.log(6.4) / 27.0 * (mel - 15.0)), 200.0 * mel / 3.0)


def mel_filters(n_mels: int, n_freqs: int = 1 + N_FFT // 2, max_hz: float = 8000.0) -> np.ndarray:
    """(n_freqs, n_mels) triangular filters on Slaney's mel scale with Slaney's area normalisation, as
    librosa and transformers' ``mel_filter_bank(norm="slaney", mel_scale="slaney")`` build them for Whisper
    (``tests/test_whisper_engine.py`` compares the two)."""
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(max_hz), n_mels + 2))
    fft_hz = np.linspace(0, SAMPLE_RATE // 2, n_freqs)
    widths = np.diff(edges)
    slopes = edges[None, :] - fft_hz[:, None]
    down, up = -slopes[:, :-2] / widths[:-1], slopes[:, 2:] / widths[1:]
    filters = np.maximum(0.0, np.minimum(down, up))
    return filters * (2.0 / (edges[2:n_mels + 2] - edges[:n_mels]))[None, :]


class LogMel:
    """The log-mel spectrogram Whisper was trained on (slaney mel filters, log10, 8 dB floor)."""

    def __init__(self, n_mels: int) -> None:
        filters = mel_filters(n_mels)
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
