"""The decoder step's shortcuts give exactly what the plain operations give."""

from __future__ import annotations

import torch
from torch import nn

from aero_agent.engines.whisper.decoding import _fused_linear, best_tokens, last_stamp
from aero_agent.engines.whisper.quantize import int8_linears


def test_fused_int8_projection_equals_the_separate_layers() -> None:
    torch.manual_seed(0)
    keys, values = nn.Linear(64, 64, bias=False), nn.Linear(64, 64)
    x = torch.randn(3, 50, 64)
    fused = int8_linears(nn.ModuleList([_fused_linear([(keys, 0.125), (values, 1.0)])]))[0]
    separate = int8_linears(nn.ModuleList([keys, values]))
    k, v = fused(x).chunk(2, dim=-1)
    assert isinstance(fused, torch.ao.nn.quantized.dynamic.Linear)
    assert torch.equal(k, separate[0](x) * 0.125)
    assert torch.equal(v, separate[1](x))


def test_best_tokens_picks_as_argmax_does() -> None:
    logits = torch.randn(4, 1000)
    logits[1, :] = float("-inf")
    logits[2, 10] = logits[2, 20] = 50.0  # a tie: the first wins
    logits[3, :500] = float("-inf")
    assert best_tokens(logits) == logits.argmax(dim=-1).tolist()


def test_last_stamp() -> None:
    assert last_stamp([5, 100, 7, 101, 8], 100) == 101
    assert last_stamp([5, 7], 100) is None
