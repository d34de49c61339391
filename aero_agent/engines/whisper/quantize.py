"""Int8 copies of Whisper's linear layers for CPU inference (dynamic quantisation, one scale per output row), and
the bfloat16 copy of the encoder (:func:`cast_copy`).

The float32 model stays as loaded (tests compare it with CTranslate2's): the engine runs on copies whose
``nn.Linear`` layers hold int8 weights and quantise their inputs per call, as CTranslate2's ``int8`` compute type
does. On 2 CPU cores this makes the encoder's matrix products and a decoder step's memory traffic about half as
costly.

The layers are torch's own dynamically quantised ``Linear`` with the scales torch's per-channel symmetric
observer would choose (``tests/test_decoder_step.py`` checks they are the same as ``quantize_dynamic``'s), built
directly: ``quantize_dynamic`` deep-copies every float weight it then throws away, runs an observer module per
layer and packs each layer twice (once empty); on tiny.en that was most of a second of start-up.
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn

_RANGE = 127.5  # (quant_max - quant_min) / 2 for qint8, as torch's symmetric observers divide


def int8_weight(weight: torch.Tensor) -> torch.Tensor:
    """``weight`` (out, in) quantised to qint8 with one symmetric scale per output row (zero point 0)."""
    w = weight.detach().float()
    # the observer's max(-min(low, 0), max(high, 0)) is each row's largest magnitude, read in one pass without a
    # temporary (torch.aminmax along rows, or abs then amax, took several times longer)
    largest = torch.linalg.vector_norm(w, ord=float("inf"), dim=1)
    scale = torch.clamp(largest / _RANGE, min=torch.finfo(torch.float32).eps)
    return torch.quantize_per_channel(w, scale.double(), torch.zeros(len(scale), dtype=torch.int64), 0, torch.qint8)


def int8_linear(weight: torch.Tensor, bias: torch.Tensor | None = None, per_row: bool = False) -> nn.Module:
    """``x @ weight.T + bias`` as torch's dynamically quantised int8 ``Linear`` (``weight`` is not kept);
    ``per_row``: each input row quantised on its own scale (:class:`RowScaledLinear`)."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    if per_row:
        return RowScaledLinear(int8_linear(weight), bias)
    with warnings.catch_warnings():  # torch marks its quantised tensors deprecated, not yet replaced
        warnings.simplefilter("ignore")
        layer = DynamicLinear(1, 1, dtype=torch.qint8)  # packed for its real shape below, once
        layer.out_features, layer.in_features = weight.shape
        layer.set_weight_bias(int8_weight(weight), None if bias is None else bias.detach())
    return layer


class RowScaledLinear(nn.Module):
    """An int8 linear layer whose every input row (every vector of the last dimension) is quantised on a scale of
    its own, as CTranslate2 quantises, so that a row's output does not depend on the other rows of its batch.

    torch's dynamic int8 ``Linear`` quantises its whole input on one scale, from the batch's smallest and largest
    values: a window's greedy reading then moved with the windows batched beside it (and a beam's scores with
    the other beams'). Here each row is divided by its largest magnitude, so every value lies in [-1, 1], and one
    more row holding -1 and 1 fixes the batch's range to exactly that: the one scale torch picks is then the same
    for every batch, and each row's product is multiplied back by its own magnitude (the bias added after).
    One extra row and a division per call; the int8 kernel stays torch's (one product for the whole batch, not
    one per row)."""

    def __init__(self, layer: nn.Module, bias: torch.Tensor | None) -> None:
        super().__init__()
        self.layer = layer  # without bias: the rows are scaled back before it is added
        self.bias = None if bias is None else bias.detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        rows = len(flat)
        scale = torch.linalg.vector_norm(flat, ord=float("inf"), dim=1, keepdim=True).clamp_(min=1e-30)
        unit = flat.new_zeros(rows + 1, flat.shape[1])
        torch.div(flat, scale, out=unit[:rows])
        unit[rows, 0], unit[rows, 1] = -1.0, 1.0
        y = self.layer(unit)[:rows].mul_(scale)
        if self.bias is not None:
            y += self.bias
        return y.view(*x.shape[:-1], y.shape[-1])


def int8_linears(module: nn.Module, leave_out: frozenset[str] = frozenset(), per_row: bool = False) -> nn.Module:
    """A copy of ``module`` with every ``nn.Linear`` replaced by a dynamically quantised int8 one; the other
    layers' parameters are shared with ``module``, not copied. Submodules whose name is in ``leave_out``
    (``self_attn.q_proj``; at any depth, under the names between them and ``module``, list indices
    excepted) are left out of the copy: layers the caller computes otherwise are not quantised only to be
    thrown away. ``per_row``: :class:`RowScaledLinear` layers."""
    return _int8_copy(module, leave_out, "", per_row)


def _int8_copy(module: nn.Module, leave_out: frozenset[str], path: str, per_row: bool = False) -> nn.Module:
    if type(module) is nn.Linear:
        return int8_linear(module.weight, module.bias, per_row)
    twin = copy.copy(module)
    twin._parameters, twin._buffers = dict(module._parameters), dict(module._buffers)
    twin._modules = {}
    for name, child in module._modules.items():
        inner = path if name.isdigit() else f"{path}.{name}".lstrip(".")  # a list's items share its name
        if inner not in leave_out or name.isdigit():
            twin._modules[name] = None if child is None else _int8_copy(child, leave_out, inner, per_row)
    return twin


def cast_copy(module: nn.Module, dtype: torch.dtype) -> nn.Module:
    """A copy of ``module`` with its floating-point parameters and buffers in ``dtype`` (the encoder's bfloat16
    twin), converted straight from ``module``'s: ``copy.deepcopy(module).to(dtype)`` first copied every float32
    weight, then converted the copy (tiny.en's encoder, one thread: 0.024 against 0.004 CPU s)."""
    def cast(t: torch.Tensor | None) -> torch.Tensor | None:
        return t.detach().to(dtype) if t is not None and t.is_floating_point() else t

    twin = copy.copy(module)
    twin._parameters = {name: None if p is None else nn.Parameter(cast(p), requires_grad=False)
                        for name, p in module._parameters.items()}
    twin._buffers = {name: cast(b) for name, b in module._buffers.items()}
    twin._modules = {name: None if child is None else cast_copy(child, dtype) for name, child in module._modules.items()}
    return twin


def int8_projection(weight: torch.Tensor, per_row: bool = False) -> nn.Module:
    """The vocabulary projection (``hidden @ weight.T``) as an int8 linear layer (``weight`` stays the token
    embedding it is tied to: no float32 copy)."""
    return int8_linear(weight, per_row=per_row)
