"""Parse an Aero-1-Audio ``config.json`` into the concrete transformers configs it is built from.

Only ``audio_config``, ``text_config`` and ``audio_token_index`` are read; ``auto_map`` and
``architectures`` entries (which point at remote code) are ignored on purpose.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import Qwen2AudioEncoderConfig, Qwen2Config

from aero_agent.errors import CheckpointError

AUDIO_TOKEN = "<|AUDIO|>"
DEFAULT_AUDIO_TOKEN_INDEX = 151667
# The sub-model types this loader builds; another encoder (e.g. Qwen2.5-Omni's) has other weights and layers.
SUPPORTED_TYPES = {"audio_config": ("qwen2_audio_encoder",), "text_config": ("qwen2",)}

# Keys that only describe remote code or the saving library; never passed to a config class.
_IGNORED_KEYS = {"auto_map", "architectures", "model_type", "transformers_version", "_name_or_path",
                 "torch_dtype", "dtype", "_attn_implementation", "_commit_hash"}
# Aliases some checkpoints write next to (or instead of) the encoder's own field names.
_ENCODER_ALIASES = {"num_hidden_layers": "encoder_layers", "hidden_size": "d_model",
                    "num_attention_heads": "encoder_attention_heads", "intermediate_size": "encoder_ffn_dim",
                    "init_std": "initializer_range"}


@dataclass
class AeroConfig:
    """The three parts of an Aero checkpoint's architecture, as concrete transformers configs."""

    audio: Qwen2AudioEncoderConfig
    text: Qwen2Config
    audio_token_index: int
    raw: dict[str, Any]

    @property
    def audio_hidden(self) -> int:
        return int(self.audio.d_model)

    @property
    def text_hidden(self) -> int:
        return int(self.text.hidden_size)

    @property
    def max_context(self) -> int:
        return int(self.text.max_position_embeddings)

    @property
    def frames_per_window(self) -> int:
        """Mel frames one encoder pass takes: ``max_source_positions`` times the conv stride (2)."""
        return int(self.audio.max_source_positions) * 2


def _encoder_config(data: dict[str, Any]) -> Qwen2AudioEncoderConfig:
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key in _IGNORED_KEYS:
            continue
        name = _ENCODER_ALIASES.get(key, key)
        if name != key and name in data:
            continue  # the canonical field is present; it wins over the alias
        kwargs[name] = value
    return Qwen2AudioEncoderConfig(**kwargs)


def _text_config(data: dict[str, Any]) -> Qwen2Config:
    # Everything but the remote-code keys goes through: Qwen2Config itself upgrades legacy
    # spellings such as rope_theta / rope_scaling.
    return Qwen2Config(**{k: v for k, v in data.items() if k not in _IGNORED_KEYS})


def load_config(model_dir: Path) -> AeroConfig:
    """Read ``model_dir/config.json``; raises :class:`CheckpointError` naming the file and the problem."""
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{path}: no config.json in the checkpoint folder")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable config.json ({exc})") from exc
    return parse_config(raw, source=str(path))


def parse_config(raw: dict[str, Any], source: str = "config.json") -> AeroConfig:
    """Build an :class:`AeroConfig` from the parsed JSON of an Aero ``config.json``."""
    model_type = raw.get("model_type")
    if model_type not in (None, "aero"):
        raise CheckpointError(f"{source}: model_type is {model_type!r}, expected 'aero' (Aero-1-Audio)")
    for part, supported in SUPPORTED_TYPES.items():
        if not isinstance(raw.get(part), dict):
            raise CheckpointError(f"{source}: missing the {part!r} section")
        kind = raw[part].get("model_type")
        if kind is not None and kind not in supported:
            raise CheckpointError(f"{source}: {part}.model_type is {kind!r}; this loader builds only "
                                  f"{', '.join(map(repr, supported))} (the Aero-1-Audio architecture)")
    try:
        audio = _encoder_config(raw["audio_config"])
        text = _text_config(raw["text_config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: invalid audio_config/text_config ({exc})") from exc
    if audio.max_source_positions <= 0 or audio.num_mel_bins <= 0:
        raise CheckpointError(f"{source}: audio_config needs positive max_source_positions and num_mel_bins")
    token = raw.get("audio_token_index", raw.get("audio_token_id", DEFAULT_AUDIO_TOKEN_INDEX))
    if not isinstance(token, int) or not 0 <= token < text.vocab_size:
        raise CheckpointError(f"{source}: audio_token_index {token!r} is outside the vocabulary ({text.vocab_size})")
    return AeroConfig(audio=audio, text=text, audio_token_index=int(token), raw=raw)
