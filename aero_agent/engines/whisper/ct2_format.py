"""Read CTranslate2 ``model.bin`` files and map a Whisper spec onto transformers' parameter names.

The binary layout is the one ``ctranslate2.specs.model_spec.ModelSpec._serialize`` writes:
``u32 version, str name, u32 revision, u32 n``, then per variable ``str name, u8 ndim, u32 dims...,
u8 dtype, u32 nbytes, bytes``, then ``u32 n_alias`` and ``(str alias, str target)`` pairs, where ``str``
is ``u16 length`` (including a trailing NUL) followed by the UTF-8 bytes and the NUL.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import torch

from aero_agent.errors import CheckpointError

# Order of ctranslate2's DataType enum (include/ctranslate2/types.h).
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
_BF16 = 5


class _Reader:
    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.pos, self.path = data, 0, path

    def take(self, fmt: str) -> int:
        try:
            (value,) = struct.unpack_from(fmt, self.data, self.pos)
        except struct.error as exc:
            raise CheckpointError(f"{self.path}: truncated CTranslate2 file at byte {self.pos}") from exc
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        length = self.take("<H")
        raw = self.data[self.pos:self.pos + length - 1]
        self.pos += length
        return raw.decode("utf-8")

    def blob(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise CheckpointError(f"{self.path}: truncated CTranslate2 file (variable runs past the end)")
        out = self.data[self.pos:self.pos + size]
        self.pos += size
        return out


def read_ct2(path: Path, *more_parts: Path) -> tuple[str, dict[str, torch.Tensor]]:
    """Spec name and every variable (aliases resolved, quantised weights scaled back to float) of a CTranslate2
    ``model.bin``, or of one split into ``path`` and ``more_parts`` (joined in order, in memory)."""
    data = Path(path).read_bytes()
    if more_parts:
        data = b"".join([data, *(Path(p).read_bytes() for p in more_parts)])
    reader = _Reader(data, Path(path))
    version = reader.take("<I")
    if version < 5:
        raise CheckpointError(f"{path}: CTranslate2 binary version {version} is too old (need 5 or newer)")
    name = reader.string()
    reader.take("<I")  # spec revision
    variables: dict[str, torch.Tensor] = {}
    for _ in range(reader.take("<I")):
        var = reader.string()
        shape = [reader.take("<I") for _ in range(reader.take("<B"))]
        dtype = reader.take("<B")
        raw = reader.blob(reader.take("<I"))
        if dtype == _BF16:
            array = torch.frombuffer(bytearray(raw), dtype=torch.bfloat16).float()
        elif dtype in _DTYPES:
            array = torch.from_numpy(np.frombuffer(raw, dtype=_DTYPES[dtype]).copy())
        else:
            raise CheckpointError(f"{path}: variable {var} has unknown dtype id {dtype}")
        variables[var] = array.reshape(shape)
    aliases = [(reader.string(), reader.string()) for _ in range(reader.take("<I"))]
    variables = _dequantized(variables)  # first, so an alias of a quantised weight (the tied output projection)
    for alias, target in aliases:        # gets the scaled weight; aliases of the scales themselves are dropped
        if target in variables:
            variables[alias] = variables[target]
    return name, variables


def _dequantized(variables: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """int8/int16 weights as float: CTranslate2 stores ``round(w * scale)`` with ``<name>_scale`` beside it
    (per output row for int8, one number for int16)."""
    for name in [k for k in variables if k.endswith("_scale")]:
        base = name[: -len("_scale")]
        weight = variables.get(base)
        if weight is None or weight.is_floating_point():
            continue
        scale = variables.pop(name).float()
        variables[base] = weight.float() / (scale.reshape(-1, *[1] * (weight.dim() - 1)) if scale.numel() > 1 else scale)
    return variables


def _linear(out: dict[str, torch.Tensor], src: dict[str, torch.Tensor], ct2: str, hf: str) -> None:
    out[f"{hf}.weight"] = src[f"{ct2}/weight"]
    if f"{ct2}/bias" in src:
        out[f"{hf}.bias"] = src[f"{ct2}/bias"]


def _norm(out: dict[str, torch.Tensor], src: dict[str, torch.Tensor], ct2: str, hf: str) -> None:
    out[f"{hf}.weight"], out[f"{hf}.bias"] = src[f"{ct2}/gamma"], src[f"{ct2}/beta"]


def _split(out: dict[str, torch.Tensor], src: dict[str, torch.Tensor], ct2: str, hf_names: list[str]) -> None:
    """A fused projection (q|k|v or k|v) back into separate ones; key projections carry no bias."""
    weights = src[f"{ct2}/weight"].chunk(len(hf_names), dim=0)
    biases = src[f"{ct2}/bias"].chunk(len(hf_names), dim=0)
    for name, w, b in zip(hf_names, weights, biases):
        out[f"{name}.weight"] = w.contiguous()
        if not name.endswith("k_proj"):
            out[f"{name}.bias"] = b.contiguous()


def whisper_state_dict(variables: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers ``WhisperForConditionalGeneration`` parameters from a CTranslate2 Whisper spec."""
    sd: dict[str, torch.Tensor] = {}
    counts = layer_counts(variables)
    for part in ("encoder", "decoder"):
        n_layers = counts[f"{part}_layers"]
        sd[f"model.{part}.embed_positions.weight"] = variables[f"{part}/position_encodings/encodings"]
        _norm(sd, variables, f"{part}/layer_norm", f"model.{part}.layer_norm")
        for i in range(n_layers):
            c, h = f"{part}/layer_{i}", f"model.{part}.layers.{i}"
            _norm(sd, variables, f"{c}/self_attention/layer_norm", f"{h}.self_attn_layer_norm")
            _split(sd, variables, f"{c}/self_attention/linear_0", [f"{h}.self_attn.{p}" for p in ("q_proj", "k_proj", "v_proj")])
            _linear(sd, variables, f"{c}/self_attention/linear_1", f"{h}.self_attn.out_proj")
            if part == "decoder":
                _norm(sd, variables, f"{c}/attention/layer_norm", f"{h}.encoder_attn_layer_norm")
                _linear(sd, variables, f"{c}/attention/linear_0", f"{h}.encoder_attn.q_proj")
                _split(sd, variables, f"{c}/attention/linear_1", [f"{h}.encoder_attn.{p}" for p in ("k_proj", "v_proj")])
                _linear(sd, variables, f"{c}/attention/linear_2", f"{h}.encoder_attn.out_proj")
            _norm(sd, variables, f"{c}/ffn/layer_norm", f"{h}.final_layer_norm")
            _linear(sd, variables, f"{c}/ffn/linear_0", f"{h}.fc1")
            _linear(sd, variables, f"{c}/ffn/linear_1", f"{h}.fc2")
    for conv in ("conv1", "conv2"):
        _linear(sd, variables, f"encoder/{conv}", f"model.encoder.{conv}")
    sd["model.decoder.embed_tokens.weight"] = variables["decoder/embeddings/weight"]
    sd["proj_out.weight"] = variables.get("decoder/projection/weight", variables["decoder/embeddings/weight"])
    out = {k: v.float().contiguous() for k, v in sd.items()}
    if out["proj_out.weight"].data_ptr() == out["model.decoder.embed_tokens.weight"].data_ptr():
        del out["proj_out.weight"]  # one tensor (a float32 alias): Whisper ties the two, and safetensors wants one
    return out


def layer_counts(variables: dict[str, torch.Tensor]) -> dict[str, int]:
    """Encoder/decoder layer counts and head counts stored in the spec."""
    def count(part: str) -> int:
        pattern = re.compile(rf"^{part}/layer_(\d+)/")
        return 1 + max(int(m.group(1)) for k in variables if (m := pattern.match(k)))

    return {
        "encoder_layers": count("encoder"),
        "decoder_layers": count("decoder"),
        "encoder_attention_heads": int(variables["encoder/num_heads"].item()),
        "decoder_attention_heads": int(variables["decoder/num_heads"].item()),
    }
