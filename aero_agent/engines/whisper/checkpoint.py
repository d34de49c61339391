"""Load Whisper weights into :class:`~aero_agent.engines.whisper.net.WhisperNet`: a CTranslate2 model (converted
once and cached) or a Hugging Face Whisper checkpoint folder or hub id (read with transformers, imported only
then). Which model a name means is :mod:`aero_agent.engines.whisper.models`'s to say."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer

from aero_agent.engines.whisper.ct2_format import layer_counts, read_ct2, whisper_state_dict
from aero_agent.engines.whisper.net import WhisperDims, WhisperNet
from aero_agent.errors import CheckpointError
from aero_agent.hashing import sha256_file
from aero_agent.persistence.atomic import atomic_write, atomic_write_with

CONVERTER_VERSION = 1


@dataclass
class WhisperCheckpoint:
    """A loaded Whisper model with its tokenizer and decoding constants."""

    model: WhisperNet
    tokenizer: Tokenizer
    model_id: str
    suppress_ids: list[int] = field(default_factory=list)
    suppress_ids_begin: list[int] = field(default_factory=list)
    alignment_heads: list[tuple[int, int]] = field(default_factory=list)
    """(decoder layer, head) pairs whose cross-attention follows the audio; default: every head of the
    upper half of the layers (openai-whisper's fallback)."""

    def __post_init__(self) -> None:
        if not self.alignment_heads:
            layers, heads = self.model.config.decoder_layers, self.model.config.decoder_attention_heads
            self.alignment_heads = [(layer, h) for layer in range(layers // 2, layers) for h in range(heads)]

    def no_speech_id(self) -> int | None:
        """The token Whisper predicts after start-of-transcript for audio without speech."""
        for name in ("<|nospeech|>", "<|nocaptions|>"):
            token_id = self.tokenizer.token_to_id(name)
            if token_id is not None:
                return token_id
        return None

    def token(self, text: str) -> int:
        token_id = self.tokenizer.token_to_id(text)
        if token_id is None:
            raise CheckpointError(f"{self.model_id}: the tokenizer has no {text} token")
        return token_id


def cache_dir() -> Path:
    """Where converted weights are cached: ``$AERO_CACHE_DIR`` or the user cache directory."""
    if os.environ.get("AERO_CACHE_DIR"):
        return Path(os.environ["AERO_CACHE_DIR"]).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("aero-agent"))


def _source_fingerprint(paths: Sequence[Path]) -> str:
    parts = []
    for path in paths:
        stat = path.stat()
        parts.append(f"{path}|{stat.st_size}|{stat.st_mtime_ns}")
    return hashlib.sha256("|".join([*parts, str(CONVERTER_VERSION)]).encode()).hexdigest()


def _stamp(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def converted_ct2_weights(parts: Sequence[Path], cache_name: str,
                          label: str) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    """Transformers-named weights for a CTranslate2 ``model.bin`` (given whole, or as ``parts`` to join in order),
    converted once and cached in ``cache_dir() / cache_name``.

    The cache is written with a manifest holding the file's SHA-256, size and modification time; a cache whose
    size or time changed is checked against its SHA-256 (and converted again when it no longer matches), as is
    one whose source files changed. Hashing only then spares every start-up reading the weights twice.
    """
    target = cache_dir() / cache_name
    weights, manifest_path = target / "model.safetensors", target / "manifest.json"
    fingerprint = _source_fingerprint(parts)
    if weights.exists() and manifest_path.exists():
        try:
            manifest = json.loads(manifest_path.read_text())
            if manifest.get("source") == fingerprint and manifest.get("stamp") == _stamp(weights):
                return load_file(str(weights)), manifest["counts"]
            if manifest.get("source") == fingerprint and sha256_file(weights) == manifest.get("sha256"):
                # whole, but touched (or stamped by an older version): stamped now, so later starts skip the hash
                atomic_write(manifest_path, json.dumps({**manifest, "stamp": _stamp(weights)}).encode())
                return load_file(str(weights)), manifest["counts"]
        except (OSError, ValueError, KeyError):
            pass
    _, variables = read_ct2(*parts)
    state, counts = whisper_state_dict(variables), layer_counts(variables)
    del variables
    target.mkdir(parents=True, exist_ok=True)
    atomic_write_with(weights, lambda tmp: save_file(state, tmp, metadata={"source": f"{label} (CTranslate2)"}))
    manifest = {"source": fingerprint, "sha256": sha256_file(weights), "stamp": _stamp(weights), "counts": counts}
    atomic_write(manifest_path, json.dumps(manifest).encode())
    return state, counts


def load_ct2(parts: Sequence[Path], folder: Path, model_id: str, cache_name: str, label: str) -> WhisperCheckpoint:
    """A CTranslate2 Whisper model (``model.bin``, or its ``parts`` in order) with the ``config.json`` and
    ``tokenizer.json`` of ``folder``, converted once and cached."""
    if not (folder / "tokenizer.json").is_file():
        raise CheckpointError(f"{folder}: no tokenizer.json beside the CTranslate2 weights")
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    state, counts = converted_ct2_weights(parts, cache_name, label)
    try:
        model = WhisperNet.from_state(WhisperDims.of(state, counts), state)
    except KeyError as exc:
        raise CheckpointError(f"{parts[0]}: weights do not fit Whisper (first mismatched key: {exc.args[0]})") from exc
    config = json.loads((folder / "config.json").read_text()) if (folder / "config.json").is_file() else {}
    eot = tokenizer.token_to_id("<|endoftext|>")
    return WhisperCheckpoint(model, tokenizer, model_id, _ids(config.get("suppress_ids")),
                             _ids(config.get("suppress_ids_begin")) or [220, eot],
                             [tuple(h) for h in config.get("alignment_heads") or []])


def _ids(value: object) -> list[int]:
    """A token id list from a CTranslate2 config, where some converters wrote it as JSON text."""
    if isinstance(value, str):
        value = json.loads(value)
    return [int(v) for v in value or []]


def load_hf(model: str) -> WhisperCheckpoint:
    """A transformers Whisper checkpoint folder, or a hub id (downloaded only because the caller named it), read
    with transformers (imported here, for this path alone) into :class:`WhisperNet`."""
    local = Path(model).expanduser()
    if local.exists():
        folder = local
    else:
        if os.environ.get("HF_HUB_OFFLINE") == "1":
            raise CheckpointError(f"{model}: no such folder, and the hub is offline (HF_HUB_OFFLINE=1)")
        from huggingface_hub import snapshot_download

        try:
            folder = Path(snapshot_download(model, allow_patterns=["*.json", "*.safetensors", "*.txt"]))
        except Exception as exc:  # network or hub errors of many kinds
            raise CheckpointError(f"{model}: could not download from the hub ({exc})") from exc
    if not (folder / "tokenizer.json").is_file():
        raise CheckpointError(f"{folder}: no tokenizer.json beside the weights")
    from transformers import WhisperForConditionalGeneration
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a local load of a few MB: its bar only clutters the CLI's output
    try:
        loaded = WhisperForConditionalGeneration.from_pretrained(folder, local_files_only=True,
                                                                 torch_dtype=torch.float32)
        net = WhisperNet.from_state(WhisperDims.from_config(loaded.config), loaded.state_dict())
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise CheckpointError(f"{folder}: not a loadable Whisper checkpoint ({exc})") from exc
    gen = {}
    if (folder / "generation_config.json").is_file():
        gen = json.loads((folder / "generation_config.json").read_text())
    return WhisperCheckpoint(net, Tokenizer.from_file(str(folder / "tokenizer.json")), str(model),
                             list(gen.get("suppress_tokens") or []), list(gen.get("begin_suppress_tokens") or [220, 50256]),
                             [tuple(h) for h in gen.get("alignment_heads") or []])
