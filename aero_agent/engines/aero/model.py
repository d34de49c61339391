"""The Aero-1-Audio network, assembled from concrete transformers classes (no remote code).

``audio_tower`` (:class:`Qwen2AudioEncoder`) -> ``audio_modal_projector`` (one :class:`nn.Linear`)
-> ``language_model`` (:class:`Qwen2ForCausalLM`).
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
from pathlib import Path

import torch
from torch import nn
from transformers import Qwen2AudioEncoder, Qwen2ForCausalLM, Qwen2Model
from transformers.masking_utils import create_bidirectional_mask
from transformers.models.qwen2.modeling_qwen2 import Qwen2RotaryEmbedding

from aero_agent.engines.aero.checkpoint import index_weights, load_weights
from aero_agent.engines.aero.config import AeroConfig
from aero_agent.errors import CheckpointError

log = logging.getLogger(__name__)


def cache_keyword() -> str:
    """The name under which the installed ``Qwen2Model.forward`` takes the KV cache.

    transformers 5.0-5.23 call it ``past_key_values``; 5.24 renamed it ``cache`` and sends the old
    name through a deprecation shim. Passing the wrong name would be swallowed by ``**kwargs`` and
    every turn would silently recompute the whole prompt, so the name is looked up, not assumed.
    """
    params = inspect.signature(Qwen2Model.forward).parameters
    for name in ("cache", "past_key_values"):
        if name in params:
            return name
    raise CheckpointError("this transformers version's Qwen2Model.forward takes no KV cache argument "
                          "(neither 'cache' nor 'past_key_values'); install transformers>=5.0")


CACHE_KEYWORD = cache_keyword()


def conv_output_frames(valid_frames: int) -> int:
    """Encoder positions after the stride-2 conv for ``valid_frames`` mel frames."""
    return (valid_frames - 1) // 2 + 1


def audio_tokens_for_frames(valid_frames: int) -> int:
    """Audio tokens (after the 2x average pool) for ``valid_frames`` mel frames; 3000 frames give 750."""
    return (conv_output_frames(valid_frames) - 2) // 2 + 1


class AeroModel(nn.Module):
    """Audio encoder, projector and language model with the parameter names of the released checkpoint."""

    def __init__(self, config: AeroConfig) -> None:
        super().__init__()
        self.config = config
        self.audio_tower = Qwen2AudioEncoder(config.audio)
        self.audio_modal_projector = nn.Linear(config.audio_hidden, config.text_hidden, bias=True)
        self.language_model = Qwen2ForCausalLM(config.text)
        self.liger_applied = False  # set by the builder when Liger's kernels patched the language model

    @property
    def device(self) -> torch.device:
        return self.audio_modal_projector.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.audio_modal_projector.weight.dtype

    @torch.inference_mode()
    def encode_windows(self, features: torch.Tensor, valid_frames: list[int]) -> list[torch.Tensor]:
        """Encode a batch of padded 30 s windows; one ``(tokens, text_hidden)`` tensor per window.

        Padded frames are masked out of the encoder's attention and their outputs dropped, as in
        the reference implementation.
        """
        features = features.to(device=self.device, dtype=self.dtype)
        batch = features.shape[0]
        positions = int(self.config.audio.max_source_positions)
        conv_lengths = torch.tensor([conv_output_frames(v) for v in valid_frames], device=self.device)
        mask_2d = (torch.arange(positions, device=self.device)[None, :] < conv_lengths[:, None]).long()
        dummy = torch.zeros((batch, positions, 1), dtype=self.dtype, device=self.device)
        # positional: 5.0 names the second argument input_embeds, later versions inputs_embeds
        mask = create_bidirectional_mask(self.audio_tower.config, dummy, mask_2d)
        hidden = self.audio_tower(features, attention_mask=mask).last_hidden_state
        projected = self.audio_modal_projector(hidden)
        return [projected[i, : audio_tokens_for_frames(v)] for i, v in enumerate(valid_frames)]

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Token embeddings of ``ids`` (shape ``(n,)``) as ``(1, n, hidden)``."""
        return self.language_model.model.embed_tokens(ids.to(self.device)[None, :])

    def forward_hidden(self, embeds: torch.Tensor, cache) -> torch.Tensor:
        """Run the decoder over ``embeds`` appending to ``cache``; returns last-layer hidden states."""
        out = self.language_model.model(inputs_embeds=embeds, use_cache=True, **{CACHE_KEYWORD: cache})
        return out.last_hidden_state

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits (float32) for hidden states; apply to the positions you need only."""
        return self.language_model.lm_head(hidden).float()


def pick_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def pick_dtype(device: torch.device, dtype: str | torch.dtype | None) -> torch.dtype:
    if dtype is None:
        if device.type != "cuda":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if isinstance(dtype, str):
        names = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
                 "float16": torch.float16, "fp16": torch.float16}
        if dtype not in names:
            raise ValueError(f"unknown dtype {dtype!r}; use one of {sorted(names)}")
        return names[dtype]
    return dtype


def pick_attention(device: torch.device, attn: str | None) -> str:
    """``flash_attention_2`` on CUDA when flash-attn is installed, otherwise SDPA."""
    if attn:
        return attn
    if device.type == "cuda" and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def _apply_liger(model: AeroModel) -> bool:
    """Liger's fused Qwen2 kernels (RoPE, RMSNorm, SwiGLU) when the package is importable."""
    if importlib.util.find_spec("liger_kernel") is None:
        return False
    try:
        from liger_kernel.transformers import apply_liger_kernel_to_qwen2

        apply_liger_kernel_to_qwen2(rope=True, rms_norm=True, swiglu=True, cross_entropy=False,
                                    fused_linear_cross_entropy=False, model=model.language_model)
        return True
    except Exception as exc:  # an incompatible liger version must not stop inference
        log.warning("liger-kernel is installed but could not patch Qwen2: %s", exc)
        return False


def _assemble(config: AeroConfig, attn: str) -> AeroModel:
    """The network on the meta device (no memory), with the attention kernels chosen."""
    config.text.tie_word_embeddings = False  # the loader ties explicitly, by assigning one tensor to both
    config.text._attn_implementation = attn
    # The encoder masks padded frames with a 4D mask, which flash-attention cannot take: keep SDPA there.
    config.audio._attn_implementation = "sdpa" if attn == "flash_attention_2" else attn
    with torch.device("meta"):
        return AeroModel(config)


def _finish(model: AeroModel, config: AeroConfig, device: torch.device, liger: bool | None,
            source: str) -> AeroModel:
    # Non-persistent buffers (rotary frequencies) are not in checkpoints: rebuild them for real.
    model.language_model.model.rotary_emb = Qwen2RotaryEmbedding(config=config.text).to(device)
    leftover = [n for n, t in list(model.named_parameters()) + list(model.named_buffers()) if t.is_meta]
    if leftover:
        raise CheckpointError(f"{source}: no weights for {leftover[0]!r}")
    model.eval()
    model.requires_grad_(False)
    use_liger = device.type == "cuda" if liger is None else liger
    model.liger_applied = _apply_liger(model) if use_liger else False
    return model


def build_model(model_dir: Path, config: AeroConfig, device: torch.device, dtype: torch.dtype,
                attn: str, liger: bool | None = None) -> AeroModel:
    """Construct the network on the meta device and assign the checkpoint's tensors to it.

    ``liger``: Liger's fused kernels when installed; default on CUDA only.
    """
    index = index_weights(model_dir)
    tie = bool(getattr(config.text, "tie_word_embeddings", False))
    model = _assemble(config, attn)
    load_weights(model, index, dtype=dtype, device=device, tie_lm_head=tie)
    return _finish(model, config, device, liger, str(model_dir))


def random_model(config: AeroConfig, device: torch.device, dtype: torch.dtype, attn: str, seed: int = 0,
                 liger: bool | None = None, std: float = 0.02) -> AeroModel:
    """The network with random weights, materialised straight in ``dtype`` on ``device``.

    For measuring speed and memory at full size without a checkpoint; tied like the config says.
    """
    tie = bool(getattr(config.text, "tie_word_embeddings", False))
    model = _assemble(config, attn).to(dtype)  # casting on meta is free: no float32 copy is ever made
    model.to_empty(device=device)
    generator = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() >= 2:
                param.normal_(0.0, std, generator=generator)
            elif name.endswith("norm.weight") or name.endswith("layer_norm.weight"):
                param.fill_(1.0)
            else:
                param.zero_()
    if tie:
        model.language_model.lm_head.weight = model.language_model.model.embed_tokens.weight
    return _finish(model, config, device, liger, "random weights")
