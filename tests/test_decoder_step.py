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


def test_int8_linears_equal_torch_quantize_dynamic() -> None:
    """Catches our direct int8 conversion choosing other scales than torch's per-channel observer (its outputs
    would then differ from the ``quantize_dynamic`` the WER figures were measured with), or copying the layers
    it does not quantise."""
    import copy
    import warnings

    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    torch.manual_seed(0)
    block = nn.Sequential(nn.Linear(64, 96), nn.LayerNorm(96), nn.Linear(96, 32, bias=False))
    block[0].weight.data[3] = 0.0  # an all-zero row: the smallest scale
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = quantize_dynamic(copy.deepcopy(block), {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)
    ours = int8_linears(block)
    x = torch.randn(5, 64)
    assert torch.equal(ours(x), reference(x))
    assert ours[1].weight is block[1].weight and isinstance(block[0], nn.Linear)


def test_best_tokens_picks_as_argmax_does() -> None:
    logits = torch.randn(4, 1000)
    logits[1, :] = float("-inf")
    logits[2, 10] = logits[2, 20] = 50.0  # a tie: the first wins
    logits[3, :500] = float("-inf")
    assert best_tokens(logits) == logits.argmax(dim=-1).tolist()


def test_last_stamp() -> None:
    assert last_stamp([5, 100, 7, 101, 8], 100) == 101
    assert last_stamp([5, 7], 100) is None


@torch.inference_mode()
def test_int8_runner_keeps_no_copies_of_the_fused_projections(engine) -> None:
    """Catches: the separate int8 q/k/v and cross k/v copies kept, or a step that still reads them (it would fail
    here, or differ from a runner that has them)."""
    from aero_agent.engines.whisper.decoding import DecoderRunner

    runner = DecoderRunner(engine.model, int8=True)
    assert all(not hasattr(layer.self_attn, "k_proj") and not hasattr(layer.encoder_attn, "v_proj")
               for layer in runner.layers)
    full = DecoderRunner(engine.model, int8=True)
    full.layers = list(int8_linears(engine.model.model.decoder.layers))
    torch.manual_seed(0)
    cross = runner.cross_keys_values(torch.randn(2, 1500, engine.model.config.d_model))
    outs = []
    for r in (runner, full):
        buffers = r.new_buffers(2, torch.float32, 4)
        outs.append([r.step(torch.tensor([50257, 50257]), 0, buffers, cross),
                     r.step(torch.tensor([400, 500]), 1, buffers, cross)])
    assert all(torch.equal(a, b) for a, b in zip(*outs))


def test_bfloat16_twin_equals_a_converted_deep_copy_and_leaves_the_model_float32(engine) -> None:
    """Catches ``cast_copy`` (the encoder's bfloat16 twin, built without a float32 deep copy first) leaving a
    parameter or buffer in float32, sharing one with the float32 model (converting the model as loaded, which
    language detection and the tests read), or computing anything else than ``copy.deepcopy(...).to(...)``."""
    import copy

    from aero_agent.engines.whisper.quantize import cast_copy

    encoder = engine.model.model.encoder
    twin = cast_copy(encoder, torch.bfloat16)
    reference = copy.deepcopy(encoder).to(torch.bfloat16)
    ours, theirs = twin.state_dict(), reference.state_dict()
    assert sorted(ours) == sorted(theirs)
    assert all(ours[k].dtype == theirs[k].dtype and torch.equal(ours[k], theirs[k]) for k in ours)
    assert all(p.dtype == torch.float32 for p in encoder.parameters())
    assert not {p.data_ptr() for p in twin.parameters()} & {p.data_ptr() for p in encoder.parameters()}
    torch.manual_seed(0)
    features = torch.randn(1, engine.model.config.num_mel_bins, 400).to(torch.bfloat16)
    with torch.inference_mode():
        assert torch.equal(twin(features), reference(features))
