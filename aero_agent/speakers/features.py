"""The voice encoder's front end: 40-band mel power spectra of 16 kHz audio, 25 ms windows every 10 ms.

It matches what the encoder was trained on (librosa's ``melspectrogram`` with its defaults: periodic Hann
window, centred frames with zero padding, power 2, Slaney mel scale and area normalisation, not log).
"""

from __future__ import annotations

import numpy as np
import torch

SAMPLE_RATE = 16_000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
TARGET_DBFS = -30.0
INT16_MAX = 2 ** 15 - 1


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear up to 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / (200.0 / 3)
    log_part = hz >= 1000.0
    return np.where(log_part, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), mel)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)), mel * (200.0 / 3))


def mel_filters(sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """Triangular mel filters, ``(n_mels, n_fft // 2 + 1)``, each normalised to unit area (Slaney)."""
    fft_hz = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate / 2), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


_FILTERS = torch.from_numpy(mel_filters())
_WINDOW = torch.hann_window(N_FFT, periodic=True)


def mel_frames(samples: np.ndarray) -> torch.Tensor:
    """Mel power frames ``(n_frames, 40)`` of a whole recording, one frame every 10 ms."""
    wave = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    spec = torch.stft(wave, N_FFT, HOP, window=_WINDOW, center=True, pad_mode="constant", return_complex=True)
    return (_FILTERS @ spec.abs().pow(2)).T.contiguous()


def loudness_gain(samples: np.ndarray) -> float:
    """The gain that raises ``samples`` to -30 dBFS RMS (never lowers it), as the encoder's training data was."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    if rms <= 1e-9:
        return 1.0
    change_db = TARGET_DBFS - 20.0 * np.log10(rms)
    return float(10.0 ** (change_db / 20.0)) if change_db > 0 else 1.0
