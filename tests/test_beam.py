"""Beam search: the option, the decoder's search, and rules applied to every hypothesis, on real speech."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pytest
import torch

from aero_agent.audio import load_audio
from aero_agent.data import EXAMPLE_TEXT, example_path
from aero_agent.engines.whisper.decoding import Row
from aero_agent.engines.whisper.search import BeamPolicy, _choose, decode_windows
from aero_agent.errors import InvalidArgumentError
from aero_agent.evaluation import word_error_rate
from aero_agent.transcription import TranscribeOptions


@pytest.fixture(scope="module")
def jfk_cross(engine):
    clip = load_audio(example_path("jfk"))
    smap = engine.speech_map(clip.samples)
    from aero_agent.engines.whisper.engine import Job

    job = Job.of(0, clip.samples, smap.windows()[0], smap)
    encoded = engine._encode_batch([job])
    return job, encoded


def _decode(engine, jfk_cross, beam: int, rules: Sequence = ()):
    job, encoded = jfk_cross
    decoded = decode_windows(engine.runner, encoded, engine.special, [job.duration_s], extra_rules=rules,
                             beam_size=beam)[0]
    return decoded, engine.tokenizer.decode([t for t in decoded.tokens if t < engine.special.eot])


def test_beam_search_reads_the_speech_at_least_as_well_as_greedy(engine, jfk_cross) -> None:
    """Catches a beam search that scrambles hypotheses (buffers not reordered with their beams) or picks the
    worst: on jfk both read the speech without error, beam at no lower log-probability per token."""
    greedy, greedy_text = _decode(engine, jfk_cross, 1)
    beam, beam_text = _decode(engine, jfk_cross, 5)
    assert word_error_rate([EXAMPLE_TEXT["jfk"]], [greedy_text]).wer == 0.0
    assert word_error_rate([EXAMPLE_TEXT["jfk"]], [beam_text]).wer == 0.0, beam_text
    # the same tokens score up to ~0.004 per token apart as a beam and alone: the int8 decoder quantises each
    # step's activations with one scale for the whole batch (all of a window's beams), not one per row
    assert beam.avg_logprob >= greedy.avg_logprob - 0.005
    assert beam.tokens[0] >= engine.special.timestamp_begin  # the timestamp grammar held in every beam


@dataclass(frozen=True)
class _Ban:
    """A rule that forbids one token, as a vocabulary rule would bias one."""

    token: int

    def apply(self, logits: torch.Tensor, rows: Sequence[Row]) -> None:
        logits[:, self.token] = float("-inf")


def test_a_logit_rule_applies_to_every_beam(engine, jfk_cross) -> None:
    """Catches rules applied to the first hypothesis only: the token ' country', which both searches write
    unhindered, banned, no beam may write it."""
    country = engine.tokenizer.encode(" country", add_special_tokens=False).ids
    assert len(country) == 1
    assert country[0] in _decode(engine, jfk_cross, 5)[0].tokens
    banned, text = _decode(engine, jfk_cross, 5, [_Ban(country[0])])
    assert country[0] not in banned.tokens and "ask" in text.lower()


def test_beam_size_option_and_policy() -> None:
    """Catches a beam size of 0, a bool or a float accepted, and a caller's choice overridden by the policy."""
    for bad in (0, 17, True, 2.0, "5"):
        with pytest.raises(InvalidArgumentError):
            TranscribeOptions(beam_size=bad)  # type: ignore[arg-type]
    assert TranscribeOptions.of("en", "", 0).beam_size is None and TranscribeOptions.of(None, None, 3).beam_size == 3
    policy = BeamPolicy(size=5, side=True, short_s=60.0, retry_below=-0.5)
    assert policy.plan(1, True, 10.0) == (1, None) and policy.plan(4, False, 900.0) == (4, None)
    assert policy.plan(None, True, 900.0) == (5, None) and policy.plan(None, False, 30.0) == (5, None)
    assert policy.plan(None, False, 900.0) == (1, (5, -0.5))
    default = BeamPolicy()  # beams for a recording up to a minute; beyond, greedy with low-confidence speech
    assert default.plan(None, False, 60.0) == (5, None) and default.plan(None, True, 11.0) == (1, None)
    assert default.plan(None, False, 900.0) == (1, (5, -0.5)) and default.plan(None, True, 900.0) == (1, None)


def test_an_end_below_the_beam_is_no_candidate() -> None:
    """Catches ends collected from anywhere in each hypothesis's top ``beam + 1``: then short, improbable
    readings filled the finished list and stopped the search early. As openai-whisper's beam search: an end
    counts only when it scores above the last continuation the beam keeps."""
    eot = 99
    hyps = [Row(1500, sum_logprob=s) for s in (-1.0, -1.2)]
    ended: list[Row] = []
    chosen = _choose(hyps, ended, [[-0.1, -0.2, -5.0], [-0.1, -0.3, -0.4]], [[1, eot, 2], [3, 4, eot]], eot)
    assert [(round(s, 2), j, t, lp) for s, j, t, lp in chosen] == [(-1.1, 0, 1, -0.1), (-1.3, 1, 3, -0.1)]
    assert [round(r.sum_logprob, 2) for r in ended] == [-1.2]  # hypothesis 0's end; hypothesis 1's (-1.6) is below


def test_engine_transcribes_with_the_asked_beam(engine) -> None:
    """Catches the option not reaching the decoder: beam 5 and greedy both read jfk, through the engine."""
    clip = load_audio(example_path("jfk"))
    for beam in (1, 5):
        text = engine.transcribe_clips([clip], options=TranscribeOptions(beam_size=beam))[0].text
        assert word_error_rate([EXAMPLE_TEXT["jfk"]], [text]).wer == 0.0, (beam, text)


def test_falsetto_the_detector_ends_early_is_read_to_its_end(engine, speech_manifest) -> None:
    """Catches a speech window cut where the voice detector ends its region (it ends "I really don't know how
    people talk like this", sung in falsetto, at "how") or a low-confidence window left to greedy decoding (which
    reads "how to put that like this"): with the window's tail and the beam retry the engine reads it all."""
    from pathlib import Path

    path = Path(speech_manifest[0]["abs_path"]).parent / "mfa_falsetto2.wav"
    text = engine.transcribe_clips([load_audio(path)])[0].text
    assert "people talk like this" in text.lower(), text


def test_cli_beam_size_reaches_the_options() -> None:
    """Catches --beam-size parsed but not passed on to the transcription options."""
    from aero_agent.cli.commands import _transcription
    from aero_agent.cli.parser import build_parser

    args = build_parser().parse_args(["transcribe", "talk.wav", "--beam-size", "3"])
    assert _transcription(args).beam_size == 3
    assert _transcription(build_parser().parse_args(["transcribe", "talk.wav"])).beam_size is None
