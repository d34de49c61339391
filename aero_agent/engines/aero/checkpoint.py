"""Find an Aero checkpoint's files and load its safetensors weights into concrete modules.

Accepts a single ``model.safetensors``, shards listed by ``model.safetensors.index.json``, and the
key spellings seen in the wild: a leading ``model.``, ``multi_modal_projector`` for the projector,
``projector.linear.weight`` or ``projector.weight``, and the language model's ``model.``/``lm_head``
under ``language_model.`` or at the top level.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from aero_agent.errors import CheckpointError

log = logging.getLogger(__name__)

INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"
_ROOTS = ("audio_tower", "audio_modal_projector", "multi_modal_projector", "language_model")
_PROJECTORS = ("audio_modal_projector.", "multi_modal_projector.")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# Buffers some exports save although they are recomputed at construction.
_DERIVED = re.compile(r"(rotary_emb\.(inv_freq|original_inv_freq)|\.masked_bias|\.attn\.bias)$")


def resolve_model_dir(model: str | Path, revision: str | None = None) -> Path:
    """A local checkpoint folder; a hub id (``org/name``) is downloaded only because the caller named it."""
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            raise CheckpointError(f"{path}: not a checkpoint folder (expected a directory with config.json)")
        return path
    text = str(model)
    if not _HUB_ID.match(text) or text.startswith((".", "/", "~")):
        raise CheckpointError(f"{text}: no such checkpoint folder")
    try:
        from huggingface_hub import snapshot_download

        local = snapshot_download(text, revision=revision,
                                  allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja"])
    except Exception as exc:  # network, auth, missing repo: all mean "no weights"
        raise CheckpointError(f"{text}: no such local folder, and downloading it as a hub id failed ({exc})") from exc
    return Path(local)


def canonical_key(key: str) -> str | None:
    """The parameter name in :class:`~aero_agent.engines.aero.model.AeroModel` for a stored key, or None."""
    k = key
    if k.startswith("model.") and k.split(".", 2)[1] in _ROOTS:
        k = k[len("model."):]
    if k == "lm_head.weight":
        return "language_model.lm_head.weight"
    for prefix in _PROJECTORS:
        if k.startswith(prefix):
            rest = k[len(prefix):]
            return "audio_modal_projector." + rest.removeprefix("linear.")
    if k.startswith("audio_tower."):
        return k
    if k.startswith("language_model."):
        rest = k[len("language_model."):]
        if rest.startswith(("model.", "lm_head.")):
            return k
        return "language_model.model." + rest
    return None


@dataclass
class WeightIndex:
    """Where each canonical parameter lives: file path and the key it is stored under."""

    root: Path
    entries: dict[str, tuple[Path, str]] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)

    def add(self, path: Path, stored: str) -> None:
        name = canonical_key(stored)
        if name is None:
            if not _DERIVED.search(stored):
                self.unexpected.append(stored)
        elif not _DERIVED.search(name):
            self.entries[name] = (path, stored)


def _safetensor_keys(path: Path) -> list[str]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            return list(handle.keys())
    except Exception as exc:
        raise CheckpointError(f"{path}: unreadable safetensors file ({exc})") from exc


def index_weights(model_dir: Path) -> WeightIndex:
    """Map every stored tensor to its canonical name; raises on missing shards or no weights."""
    model_dir = Path(model_dir)
    index = WeightIndex(model_dir)
    index_path = model_dir / INDEX_FILE
    if index_path.is_file():
        try:
            weight_map: dict[str, str] = json.loads(index_path.read_text(encoding="utf-8"))["weight_map"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{index_path}: unreadable shard index ({exc})") from exc
        for stored, shard in weight_map.items():
            shard_path = model_dir / shard
            if not shard_path.is_file():
                raise CheckpointError(f"{shard_path}: shard listed in {INDEX_FILE} is missing "
                                      f"(it holds {stored!r})")
            index.add(shard_path, stored)
        return index
    files = [model_dir / SINGLE_FILE] if (model_dir / SINGLE_FILE).is_file() else \
        sorted(model_dir.glob("*.safetensors"))
    if not files:
        hint = " (only PyTorch .bin weights found; convert them to safetensors)" \
            if any(model_dir.glob("*.bin")) else ""
        raise CheckpointError(f"{model_dir}: no safetensors weights{hint}")
    for path in files:
        for stored in _safetensor_keys(path):
            index.add(path, stored)
    return index


LM_HEAD, EMBED = "language_model.lm_head.weight", "language_model.model.embed_tokens.weight"


def load_weights(module: nn.Module, index: WeightIndex, dtype: torch.dtype, device: torch.device,
                 tie_lm_head: bool) -> None:
    """Load every parameter of ``module`` from ``index``, checking names and shapes first.

    With ``tie_lm_head`` (``text_config.tie_word_embeddings``) the output head is the embedding matrix,
    as upstream ties it; a stored head that differs from it is ignored with a warning.
    The module may live on the meta device: tensors are assigned, not copied. Raises
    :class:`CheckpointError` naming the file (or folder) and the first missing or mismatched key.
    """
    from safetensors import safe_open

    expected = {name: tuple(p.shape) for name, p in module.state_dict().items() if not _DERIVED.search(name)}
    tie = tie_lm_head and LM_HEAD in expected
    for name, shape in expected.items():
        if name not in index.entries and not (tie and name == LM_HEAD):
            hint = " (text_config.tie_word_embeddings is false, so the head is not the embedding matrix)" \
                if name == LM_HEAD else ""
            raise CheckpointError(f"{index.root}: checkpoint is missing {name!r} (expected shape {shape}){hint}")
    if index.unexpected:
        log.warning("%s: ignoring %d unexpected tensors, e.g. %s", index.root, len(index.unexpected),
                    index.unexpected[0])

    by_file: dict[Path, list[str]] = {}
    for name in expected:
        if name in index.entries:
            by_file.setdefault(index.entries[name][0], []).append(name)
    state: dict[str, torch.Tensor] = {}
    for path, names in by_file.items():
        try:
            handle_ctx = safe_open(str(path), framework="pt", device="cpu")
        except Exception as exc:
            raise CheckpointError(f"{path}: unreadable safetensors file ({exc})") from exc
        with handle_ctx as handle:
            for name in names:
                stored = index.entries[name][1]
                shape = tuple(handle.get_slice(stored).get_shape())
                if shape != expected[name]:
                    raise CheckpointError(f"{path}: tensor {stored!r} has shape {shape} but the architecture "
                                          f"expects {expected[name]} for {name!r}")
                tensor = handle.get_tensor(stored)
                if not tensor.is_floating_point():
                    raise CheckpointError(f"{path}: tensor {stored!r} has dtype {tensor.dtype}, expected floats")
                state[name] = tensor.to(device=device, dtype=dtype)
    if tie:
        stored_head = state.get(LM_HEAD)
        if stored_head is not None and not torch.equal(stored_head, state[EMBED]):
            log.warning("%s: text_config.tie_word_embeddings is true but the stored %s differs from the "
                        "embeddings; tying them as the config says (set it to false to use the stored head)",
                        index.root, index.entries[LM_HEAD][1])
        state[LM_HEAD] = state[EMBED]
    missing, _ = module.load_state_dict(state, strict=False, assign=True)
    left = [m for m in missing if not _DERIVED.search(m)]
    if left:  # cannot happen after the checks above; kept as a guard for new architectures
        raise CheckpointError(f"{index.root}: checkpoint is missing {left[0]!r}")
