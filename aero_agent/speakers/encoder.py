"""The GE2E voice encoder (3-layer LSTM over 40 mel bands, 256-d embedding), with resemblyzer's weights."""

from __future__ import annotations

import threading
from pathlib import Path

import torch
from torch import nn

from aero_agent.errors import CheckpointError
from aero_agent.speakers.features import N_MELS
from aero_agent.speakers.weights import encoder_weights_path

HIDDEN = 256
EMBEDDING = 256
LAYERS = 3
BATCH = 64


class VoiceEncoder(nn.Module):
    """Mel frames of fixed-length windows in, one L2-normalised speaker embedding per window out."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(N_MELS, HIDDEN, LAYERS, batch_first=True)
        self.linear = nn.Linear(HIDDEN, EMBEDDING)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        """``(batch, frames, 40)`` mel power frames to ``(batch, 256)`` unit vectors (non-negative)."""
        _, (hidden, _) = self.lstm(mels)
        raw = torch.relu(self.linear(hidden[-1]))
        return raw / raw.norm(dim=1, keepdim=True).clamp_min(1e-12)

    @torch.inference_mode()
    def embed(self, windows: torch.Tensor) -> torch.Tensor:
        """Embeddings of many windows ``(n, frames, 40)``, computed in batches."""
        if len(windows) == 0:
            return torch.empty(0, EMBEDDING)
        return torch.cat([self(windows[i:i + BATCH]) for i in range(0, len(windows), BATCH)])


def load_voice_encoder(path: str | Path | None = None) -> VoiceEncoder:
    """The encoder with the weights at ``path`` (resemblyzer's ``pretrained.pt`` by default)."""
    path = Path(path) if path is not None else encoder_weights_path()
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        state = checkpoint["model_state"] if "model_state" in checkpoint else checkpoint
        encoder = VoiceEncoder()
        missing, _ = encoder.load_state_dict(state, strict=False)
    except (OSError, RuntimeError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: cannot load the voice encoder weights: {exc}") from exc
    if missing:  # unexpected keys are fine: the checkpoint also holds training-only similarity weights
        raise CheckpointError(f"{path}: the weights do not fit the voice encoder (missing {sorted(missing)})")
    return encoder.eval()


_shared: VoiceEncoder | None = None
_lock = threading.Lock()


def shared_voice_encoder() -> VoiceEncoder:
    """One encoder per process, loaded on first use."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = load_voice_encoder()
        return _shared
