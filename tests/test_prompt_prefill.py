"""Previous-text prompts: the one-pass prefill computes what feeding the prefix step by step computes, a window
without a prompt decodes as before, and a prompt steers the words of real speech without appearing in them."""

from __future__ import annotations

import pytest
import torch

from aero_agent.audio import load_audio
from aero_agent.engines.whisper.decoding import DecoderRunner
from aero_agent.engines.whisper.search import decode_windows
from aero_agent.engines.whisper.encoder import encode, pad_batch
from aero_agent.errors import InvalidArgumentError
from speech_data import speech_file

CLIP = "librivox_sense_sensibility_0870.wav"  # "and mister john dashwood had then leisure to consider ..."


@pytest.fixture(scope="module")
def clip():
    return load_audio(speech_file(CLIP))


@pytest.fixture(scope="module")
def encoded(engine, clip) -> torch.Tensor:
    """Encoder states of the clip and of its second half, as a batch of two windows."""
    half = clip.samples[len(clip.samples) // 2:]
    with torch.inference_mode():
        features = engine.mel(pad_batch([clip.samples, half], None)).to(engine.encoder_dtype)
        return encode(engine.encoder, features).float()


@pytest.fixture(scope="module")
def float_runner(engine) -> DecoderRunner:
    return DecoderRunner(engine.model, int8=False, values_dtype=torch.float32)


@torch.inference_mode()
def test_prefill_equals_feeding_the_prefix_step_by_step(engine, float_runner, encoded) -> None:
    special = engine.special
    prompt = engine.prompt_tokens(["Mister John Dashwood, Elinor and Marianne."])[0]
    prefixes = [special.prefix(prompt), special.prefix(())]
    width = max(len(p) for p in prefixes)
    pad = torch.tensor([width - len(p) for p in prefixes])
    cross = float_runner.cross_keys_values(encoded)
    buffers = float_runner.new_buffers(2, torch.float32, width + 2)
    tokens = torch.tensor([[special.eot] * (width - len(p)) + p for p in prefixes])
    hidden = float_runner.prefill(tokens, pad, buffers, cross)
    after_prefill = float_runner.step(torch.tensor([50, 50]), width, buffers, cross, pad)
    for row, prefix in enumerate(prefixes):
        alone = [(k[row: row + 1], v[row: row + 1]) for k, v in cross]
        own = float_runner.new_buffers(1, torch.float32, len(prefix) + 2)
        for position, token in enumerate(prefix):
            logits = float_runner.step(torch.tensor([token]), position, own, alone)
        # the vocabulary projection runs in bfloat16: a hidden state a rounding apart can move a logit by one ulp (2^-7 relative)
        torch.testing.assert_close(float_runner.project(hidden[row: row + 1, -1]), logits, atol=0.04, rtol=2 ** -7)
        following = float_runner.step(torch.tensor([50]), len(prefix), own, alone)
        torch.testing.assert_close(after_prefill[row: row + 1], following, atol=0.04, rtol=2 ** -7)
        assert after_prefill[row].argmax() == following[0].argmax()


def test_windows_without_a_prompt_decode_as_before(engine, encoded) -> None:
    plain = decode_windows(engine.runner, encoded, engine.special, [30.0, 30.0])
    empty = decode_windows(engine.runner, encoded, engine.special, [30.0, 30.0], prompts=[(), ()])
    assert [(d.tokens, d.avg_logprob, d.no_speech_prob) for d in plain] == \
        [(d.tokens, d.avg_logprob, d.no_speech_prob) for d in empty]
    prompt = engine.prompt_tokens(["Elinor and Marianne."])[0]
    mixed = decode_windows(engine.runner, encoded, engine.special, [30.0, 30.0], prompts=[(), prompt])
    # left-padded beside a prompted row, it reads the same words. int8 activations have one scale per row (a batch
    # mate cannot move them), but a padded row's attention runs over more keys: float rounding that an int8 level
    # can amplify, so a near-tied timestamp may move by a step or two (measured: the last one, 0.04 s)
    stamp = engine.special.timestamp_begin
    assert [t for t in mixed[0].tokens if t < stamp] == [t for t in plain[0].tokens if t < stamp]
    times = [(a - stamp, b - stamp) for a, b in zip(mixed[0].tokens, plain[0].tokens) if min(a, b) >= stamp]
    assert len(times) == sum(t >= stamp for t in plain[0].tokens) and all(abs(a - b) <= 5 for a, b in times)
    assert mixed[0].avg_logprob == pytest.approx(plain[0].avg_logprob, abs=0.005)
    assert mixed[0].no_speech_prob == pytest.approx(plain[0].no_speech_prob, abs=0.02)


def test_a_prompt_sets_the_spelling_and_stays_out_of_the_transcript(engine, clip) -> None:
    plain, = engine.transcribe_clips([clip])
    prompted, = engine.transcribe_clips([clip], prompts=["Mister John Dashwood, Elinor and Marianne."])
    assert "Mr. John Dashwood" in plain.text and "Mister John Dashwood" in prompted.text
    assert "Elinor" not in prompted.text and "Marianne" not in prompted.text
    for segment in prompted.segments:
        assert 0.0 <= segment.start <= segment.end <= clip.duration_s
        for word in segment.words or []:
            assert segment.start - 0.5 <= word.start <= word.end <= clip.duration_s
    assert engine.transcribe_clips([clip], prompts=[""])[0].text == plain.text
    with pytest.raises(InvalidArgumentError):
        engine.transcribe_clips([clip], prompts=["a", "b"])
