"""Int8 copies of Whisper's linear layers for CPU inference (dynamic quantisation, one scale per output row).

The float32 model stays as loaded (tests compare it with CTranslate2's, and ``save_pretrained`` needs it):
the engine runs on copies whose ``nn.Linear`` layers hold int8 weights and quantise their inputs per call,
as CTranslate2's ``int8`` compute type does. On 2 CPU cores this makes the encoder's matrix products and a
decoder step's memory traffic about half as costly.
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn


def _quantize(module: nn.Module) -> nn.Module:
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():  # torch marks its eager quantisation API deprecated, not yet replaced
        warnings.simplefilter("ignore")
        return quantize_dynamic(module, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True)


def int8_linears(module: nn.Module) -> nn.Module:
    """A copy of ``module`` with every ``nn.Linear`` replaced by a dynamically quantised int8 one."""
    return _quantize(copy.deepcopy(module))


def int8_projection(weight: torch.Tensor) -> nn.Module:
    """The vocabulary projection (``hidden @ weight.T``) as an int8 linear layer; ``weight`` is not copied
    in float32 (it stays the token embedding it is tied to)."""
    linear = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    linear.weight = nn.Parameter(weight.detach(), requires_grad=False)
    return _quantize(nn.Sequential(linear))[0]
