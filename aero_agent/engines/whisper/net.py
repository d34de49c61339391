"""Whisper's network in plain torch, laid out as transformers' ``WhisperForConditionalGeneration`` (the same
parameter names, so a transformers state dict loads as it is), without importing transformers.

Importing transformers' Whisper model code costs seconds at start-up (its model, generation and distributed
modules: 5.4 s of 6.2 s to load the engine on an AVX2 machine); this module needs torch alone, and leaves the
large parameters empty until the checkpoint's are assigned (no random initialisation). The decoder
has no forward of its own: :class:`~aero_agent.engines.whisper.decoding.DecoderRunner` is its step. The encoder's
forward is transformers' (pre-norm self-attention and GELU MLP layers, the query scaled before the product), and
``tests/test_whisper_engine.py`` checks it against transformers' and CTranslate2's encoders.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class WhisperDims:
    """The sizes of a Whisper network, named as transformers' ``WhisperConfig`` names them."""

    vocab_size: int
    num_mel_bins: int
    d_model: int
    encoder_layers: int
    encoder_attention_heads: int
    decoder_layers: int
    decoder_attention_heads: int
    encoder_ffn_dim: int
    decoder_ffn_dim: int
    max_source_positions: int
    max_target_positions: int

    @classmethod
    def of(cls, state: Mapping[str, torch.Tensor], counts: Mapping[str, int]) -> "WhisperDims":
        """The sizes a state dict's shapes imply, with its layer and head ``counts``."""
        vocab, d_model = state["model.decoder.embed_tokens.weight"].shape
        return cls(vocab_size=vocab, num_mel_bins=state["model.encoder.conv1.weight"].shape[1], d_model=d_model,
                   encoder_layers=counts["encoder_layers"], encoder_attention_heads=counts["encoder_attention_heads"],
                   decoder_layers=counts["decoder_layers"], decoder_attention_heads=counts["decoder_attention_heads"],
                   encoder_ffn_dim=state["model.encoder.layers.0.fc1.weight"].shape[0],
                   decoder_ffn_dim=state["model.decoder.layers.0.fc1.weight"].shape[0],
                   max_source_positions=state["model.encoder.embed_positions.weight"].shape[0],
                   max_target_positions=state["model.decoder.embed_positions.weight"].shape[0])

    @classmethod
    def from_config(cls, config: Any) -> "WhisperDims":
        """The sizes of a transformers ``WhisperConfig`` (or any object with these attributes)."""
        return cls(**{name: int(getattr(config, name)) for name in cls.__dataclass_fields__})

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def linear_of(weight: torch.Tensor, bias: torch.Tensor | None) -> nn.Linear:
    """An ``nn.Linear`` (exactly that type: int8 quantisation swaps by type) holding ``weight`` (out, in) and
    ``bias``, built without the random initialisation ``nn.Linear(...)`` runs first (a fifth of a second for
    tiny.en's layers alone)."""
    layer = nn.Linear.__new__(nn.Linear)
    nn.Module.__init__(layer)
    layer.out_features, layer.in_features = weight.shape
    layer.weight = nn.Parameter(weight, requires_grad=False)
    layer.register_parameter("bias", None if bias is None else nn.Parameter(bias, requires_grad=False))
    return layer


def _linear(inputs: int, outputs: int, bias: bool = True) -> nn.Linear:
    """A linear layer with empty parameters, which the checkpoint then assigns."""
    return linear_of(torch.empty(outputs, inputs), torch.empty(outputs) if bias else None)


def _embedding(count: int, dim: int) -> nn.Embedding:
    """An ``nn.Embedding`` with an empty table (see :func:`_linear`)."""
    return nn.Embedding(count, dim, _weight=torch.empty(count, dim), _freeze=True)


class Attention(nn.Module):
    """Multi-head attention with transformers' Whisper parameters (the key projection has no bias)."""

    def __init__(self, d_model: int, heads: int) -> None:
        super().__init__()
        self.heads, self.scaling = heads, (d_model // heads) ** -0.5
        self.q_proj = _linear(d_model, d_model)
        self.k_proj = _linear(d_model, d_model, bias=False)
        self.v_proj = _linear(d_model, d_model)
        self.out_proj = _linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Self-attention over ``x`` (batch, frames, d_model), unmasked (the encoder's)."""
        b, t, d = x.shape
        split = (b, t, self.heads, d // self.heads)
        q = (self.q_proj(x) * self.scaling).view(split).transpose(1, 2)
        k, v = (proj(x).view(split).transpose(1, 2) for proj in (self.k_proj, self.v_proj))
        o = F.scaled_dot_product_attention(q, k, v, scale=1.0)
        return self.out_proj(o.transpose(1, 2).reshape(b, t, d))


class EncoderLayer(nn.Module):
    def __init__(self, d_model: int, heads: int, ffn: int) -> None:
        super().__init__()
        self.self_attn = Attention(d_model, heads)
        self.self_attn_layer_norm = nn.LayerNorm(d_model)
        self.fc1, self.fc2 = _linear(d_model, ffn), _linear(ffn, d_model)
        self.final_layer_norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor, mask: None = None) -> torch.Tensor:
        x = x + self.self_attn(self.self_attn_layer_norm(x))
        return x + self.fc2(F.gelu(self.fc1(self.final_layer_norm(x))))


class DecoderLayer(nn.Module):
    """A decoder layer's parameters; the step that runs them is ``DecoderRunner``'s."""

    def __init__(self, d_model: int, heads: int, ffn: int) -> None:
        super().__init__()
        self.self_attn, self.encoder_attn = Attention(d_model, heads), Attention(d_model, heads)
        self.self_attn_layer_norm = nn.LayerNorm(d_model)
        self.encoder_attn_layer_norm = nn.LayerNorm(d_model)
        self.fc1, self.fc2 = _linear(d_model, ffn), _linear(ffn, d_model)
        self.final_layer_norm = nn.LayerNorm(d_model)


class Encoder(nn.Module):
    def __init__(self, dims: WhisperDims) -> None:
        super().__init__()
        self.config = dims
        d = dims.d_model
        self.conv1 = nn.Conv1d(dims.num_mel_bins, d, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(d, d, kernel_size=3, stride=2, padding=1)
        self.embed_positions = _embedding(dims.max_source_positions, d)
        self.layers = nn.ModuleList(EncoderLayer(d, dims.encoder_attention_heads, dims.encoder_ffn_dim)
                                    for _ in range(dims.encoder_layers))
        self.layer_norm = nn.LayerNorm(d)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Encoder states (batch, frames, d_model) of log-mel ``features`` (batch, n_mels, 2 x frames), any
        length up to 30 s (the positions are cut to the input's frames)."""
        x = F.gelu(self.conv1(features))
        x = F.gelu(self.conv2(x)).permute(0, 2, 1)
        x = x + self.embed_positions.weight[: x.shape[1]]
        for layer in self.layers:
            x = layer(x)
        return self.layer_norm(x)


class Decoder(nn.Module):
    def __init__(self, dims: WhisperDims) -> None:
        super().__init__()
        self.config = dims
        d = dims.d_model
        self.embed_tokens = _embedding(dims.vocab_size, d)
        self.embed_positions = _embedding(dims.max_target_positions, d)
        self.layers = nn.ModuleList(DecoderLayer(d, dims.decoder_attention_heads, dims.decoder_ffn_dim)
                                    for _ in range(dims.decoder_layers))
        self.layer_norm = nn.LayerNorm(d)


class _Body(nn.Module):
    def __init__(self, dims: WhisperDims) -> None:
        super().__init__()
        self.encoder, self.decoder = Encoder(dims), Decoder(dims)


class WhisperNet(nn.Module):
    """Whisper's encoder and decoder parameters under transformers' names (``model.encoder...``,
    ``model.decoder...``, ``proj_out`` tied to the token embedding)."""

    def __init__(self, dims: WhisperDims) -> None:
        super().__init__()
        self.config = dims
        self.model = _Body(dims)
        self.proj_out = _linear(dims.d_model, dims.vocab_size, bias=False)

    def to_transformers(self) -> Any:
        """transformers' ``WhisperForConditionalGeneration`` holding these weights (imports transformers)."""
        from transformers import WhisperConfig, WhisperForConditionalGeneration

        tied = self.proj_out.weight is self.model.decoder.embed_tokens.weight
        twin = WhisperForConditionalGeneration(WhisperConfig(**self.config.as_dict(), tie_word_embeddings=tied))
        twin.load_state_dict(self.state_dict(), strict=True)
        return twin.eval()

    def save_pretrained(self, folder: Any) -> None:
        """Save as a transformers Whisper checkpoint folder (``config.json`` and safetensors weights)."""
        self.to_transformers().save_pretrained(folder)

    @classmethod
    def from_state(cls, dims: WhisperDims, state: Mapping[str, torch.Tensor]) -> "WhisperNet":
        """The network holding ``state``'s tensors themselves (no copy, and none initialised at random first).

        Raises ``KeyError`` naming the first missing or unexpected parameter."""
        net = cls(dims)
        tokens = state["model.decoder.embed_tokens.weight"]
        projection = state.get("proj_out.weight")
        tied = projection is None or projection is tokens or torch.equal(projection, tokens)
        state = {k: v for k, v in state.items() if k != "proj_out.weight" or not tied}
        expected = {k for k in net.state_dict() if k != "proj_out.weight" or not tied}
        odd = sorted(expected ^ set(state))
        if odd:
            raise KeyError(odd[0])
        net.load_state_dict(state, strict=False, assign=True)
        if tied:
            net.proj_out.weight = net.model.decoder.embed_tokens.weight
        return net.eval().requires_grad_(False)
