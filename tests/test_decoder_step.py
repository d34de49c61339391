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
    full.layers = list(int8_linears(engine.model.model.decoder.layers, per_row=True))
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


def test_a_row_scaled_int8_layer_reads_each_row_alone() -> None:
    """Catches one activation scale shared by a batch (torch's dynamic int8 ``Linear``): a row's output then
    moves with the rows beside it. Each row here equals the row computed alone, bit for bit, and stays as close
    to the float product as the per-tensor layer is on its own batch."""
    from aero_agent.engines.whisper.quantize import RowScaledLinear, int8_linear

    torch.manual_seed(0)
    weight, bias = torch.randn(96, 64) * 0.05, torch.randn(96)
    layer = int8_linear(weight, bias, per_row=True)
    assert isinstance(layer, RowScaledLinear)
    x = torch.randn(6, 64)
    x[2] *= 30.0  # one loud row: with one scale for the batch it coarsens the others
    batched = layer(x)
    assert torch.equal(batched, torch.cat([layer(x[k:k + 1]) for k in range(6)]))
    assert torch.equal(layer(x.view(2, 3, 64)), batched.view(2, 3, 96))
    exact = x @ weight.T + bias
    shared = int8_linear(weight, bias)(x)
    assert (batched - exact).abs()[[0, 1, 3]].max() < 0.2 * (shared - exact).abs()[[0, 1, 3]].max()


@torch.inference_mode()
def test_a_window_reads_the_same_whatever_its_batch_mates(engine, speech_manifest) -> None:
    """Catches a window's reading depending on the windows decoded beside it (so on where a recording's cuts
    put it, or on which windows a retry gathers): three real clips, greedy and with beams, each window's tokens
    and log-probability the same alone, in a batch of three and beside another."""
    from aero_agent.audio import load_audio
    from aero_agent.engines.whisper.features import pad_windows
    from aero_agent.engines.whisper.search import decode_windows

    clips = [r for r in speech_manifest if 4.0 <= r["duration_s"] <= 12.0][:3]
    audio = [load_audio(r["abs_path"]).samples.astype("float32") for r in clips]
    encoded = engine.encoder(engine.mel(pad_windows(audio)).to(engine.encoder_dtype)).float()
    seconds = [len(a) / 16_000 for a in audio]
    for beams in (1, 5):
        def read(rows: list[int]) -> dict[int, tuple[list[int], float]]:
            decoded = decode_windows(engine.runner, encoded[rows], engine.special, [seconds[k] for k in rows],
                                     beam_size=beams)
            return {k: (d.tokens, d.avg_logprob) for k, d in zip(rows, decoded)}

        together = read([0, 1, 2])
        assert together[0] == read([0])[0] and together[2] == read([2, 0])[2], beams
        assert all(len(tokens) > 5 for tokens, _ in together.values())
