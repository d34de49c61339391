"""The Whisper engine's repair pass: speech a window's decode left uncovered is found and decoded again.

``SpeechMap.uncovered_speech`` is tested on its own (real speech, real silence), then the whole loop: the first-pass
decode of a window is cut to its first segment, as when Whisper ends a window early, and the repair job queued
for the rest must bring the lost words back.
"""

from __future__ import annotations

import numpy as np
import pytest

from aero_agent.audio import load_audio
from aero_agent.data import EXAMPLE_TEXT, example_path
from aero_agent.engines.whisper.chunking import Window
from aero_agent.evaluation import word_error_rate

SR = 16_000


@pytest.fixture(scope="module")
def jfk() -> np.ndarray:
    return load_audio(example_path("jfk")).samples  # 11 s, speech throughout, one window


def test_uncovered_speech_finds_the_untranscribed_tail(engine, jfk: np.ndarray) -> None:
    """Catches ``uncovered_speech`` returning nothing (repair disabled) or gaps placed at the wrong edges."""
    speech = engine.speech_map(jfk)
    window = Window(0, len(jfk))
    gaps = speech.uncovered_speech(window, [(0.0, 5.0)])
    assert len(gaps) == 1
    assert gaps[0].start == 5 * SR and gaps[0].end == len(jfk)  # from the covered span's end to the window's edge
    head = speech.uncovered_speech(window, [(6.0, 11.0)])
    assert [(g.start, g.end) for g in head] == [(0, 6 * SR)]
    middle = speech.uncovered_speech(window, [(0.0, 3.0), (8.0, 11.0)])
    assert [(g.start, g.end) for g in middle] == [(3 * SR, 8 * SR)]


def test_uncovered_speech_ignores_covered_silent_and_tiny_gaps(engine, jfk: np.ndarray) -> None:
    """Catches a repair queued for every gap: covered speech, digital silence and a gap under 0.4 s need none."""
    speech = engine.speech_map(jfk)
    assert speech.uncovered_speech(Window(0, len(jfk)), [(0.0, 11.0)]) == []
    assert speech.uncovered_speech(Window(0, len(jfk)), [(0.0, 5.0), (5.3, 11.0)]) == []  # 0.3 s gap
    padded = np.concatenate([jfk, np.zeros(4 * SR, dtype=jfk.dtype)])
    quiet = engine.speech_map(padded)
    assert quiet.uncovered_speech(Window(0, len(padded)), [(0.0, 11.0)]) == []  # 4 s of silence after speech


def test_a_window_decoded_only_in_part_is_repaired(engine, monkeypatch) -> None:
    """Catches ``repair_rounds=0`` (the default weakened) and a repair job that is queued but never filled.

    The first-pass decode keeps only its first segment (0-8 s of 11 s); the repair pass must queue one more
    window, and the final transcript must hold the whole speech again.
    """
    real_decode = engine._decode_batch

    def first_segment_only(batch, cross, *args, **kwargs):
        out = real_decode(batch, cross, *args, **kwargs)
        return [segs[:1] if getattr(job, "round", 0) == 0 else segs for job, segs in zip(batch, out)]

    monkeypatch.setattr(engine, "_decode_batch", first_segment_only)
    clip = load_audio(example_path("jfk"))
    seen = []
    transcript = engine.encode(clip, progress=seen.append).transcript
    assert seen[0].total == 1 and seen[-1].total == 2 == seen[-1].done  # one repair job was queued and run
    assert transcript.segments[0].end <= 8.5 and transcript.segments[-1].start >= 7.5
    assert "ask what you can do for your country" in transcript.text.lower()
    assert word_error_rate([EXAMPLE_TEXT["jfk"]], [transcript.text]).wer == 0.0


def test_repair_does_not_run_when_the_first_pass_covers_everything(engine) -> None:
    """Catches a repair pass that re-decodes covered windows (doubling words): a full decode queues nothing."""
    seen = []
    transcript = engine.encode(load_audio(example_path("jfk")), progress=seen.append).transcript
    assert seen[-1].total == 1
    assert word_error_rate([EXAMPLE_TEXT["jfk"]], [transcript.text]).wer == 0.0
