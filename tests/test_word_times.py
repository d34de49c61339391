"""Word times: cross-attention DTW alignment against forced alignments of real speech, and its pieces."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from aero_agent.audio import load_audio
from aero_agent.engines.whisper.timing import dtw_path, median_filter, merge_punctuation, WordTiming
from aero_agent.evaluation import read_word_times, score_word_times

# Measured on these clips (benchmarks/word_times.py): 86-93 % of matched words within 0.2 s, median
# error 0.04-0.06 s; the bounds leave room for small numeric differences only.
ALIGNED = {"ljspeech_LJ001-0001": True, "mfa_acoustic_corpus": False}


@pytest.fixture(scope="module")
def words_dir(speech_manifest) -> Path:
    return Path(speech_manifest[0]["abs_path"]).parent.parent / "words"


@pytest.mark.parametrize("clip_id", sorted(ALIGNED))
def test_word_times_follow_forced_alignment(engine, words_dir: Path, clip_id: str) -> None:
    """Catches: wrong alignment heads, rows of the attention matrix off by one token, times not mapped to the
    clip (each moves most words by a word or more)."""
    clip = load_audio(words_dir.parent / "clips" / f"{clip_id}.wav")
    transcript = engine.transcribe_clips([clip])[0]
    words = [(w.start, w.end, w.word) for s in transcript.segments for w in s.words]
    score = score_word_times(read_word_times(words_dir / f"{clip_id}.words.tsv"), words,
                             skip_first_start=ALIGNED[clip_id])
    print(f"{clip_id}: {score}")
    assert score.matched >= 0.8 * score.reference_words
    assert score.within >= 0.75
    assert score.median_error_s <= 0.1


def test_every_segment_has_ordered_words_inside_the_clip(engine, example_wav: Path) -> None:
    """Catches: words dropped from segments, times outside the clip or running backwards, words assigned
    to the wrong segment (their text would not rebuild the segment's)."""
    clip = load_audio(example_wav)
    transcript = engine.encode(clip).transcript
    for seg in transcript.segments:
        assert seg.words, seg
        assert "".join(w.word for w in seg.words).strip() == seg.text
        assert all(0.0 <= w.start <= w.end <= clip.duration_s + 1e-6 for w in seg.words)
        assert all(a.start <= b.start for a, b in zip(seg.words, seg.words[1:]))
        assert all(0.0 < w.probability <= 1.0 for w in seg.words)


def test_word_times_can_be_turned_off(engine, example_wav: Path) -> None:
    """Catches: the option ignored (words computed anyway) or segments lost with it."""
    quiet = copy.copy(engine)
    quiet.options = replace(engine.options, word_timestamps=False)
    transcript = quiet.encode(load_audio(example_wav)).transcript
    assert transcript.segments and all(s.words is None for s in transcript.segments)


def test_dtw_takes_the_cheapest_monotonic_path() -> None:
    """Catches: a wrong recurrence or backtrace in the vectorised DTW (checked against a plain one)."""
    rng = np.random.default_rng(0)
    cost = rng.random((7, 19))
    rows, cols = dtw_path(cost)
    assert rows[0] == cols[0] == 0 and rows[-1] == 6 and cols[-1] == 18
    assert np.all(np.diff(rows) >= 0) and np.all(np.diff(cols) >= 0)
    best = np.full((8, 20), np.inf)
    best[0, 0] = 0
    for i in range(1, 8):
        for j in range(1, 20):
            best[i, j] = cost[i - 1, j - 1] + min(best[i - 1, j - 1], best[i - 1, j], best[i, j - 1])
    assert cost[rows, cols].sum() == pytest.approx(best[7, 19])


def test_median_filter_is_the_median_of_each_reflected_neighbourhood() -> None:
    """Catches: the sorting network comparing the wrong neighbours, or edges padded another way."""
    import torch

    x = torch.from_numpy(np.random.default_rng(1).standard_normal((3, 5, 40)).astype(np.float32))
    padded = np.pad(x.numpy(), [(0, 0), (0, 0), (3, 3)], mode="reflect")
    expected = np.median(np.lib.stride_tricks.sliding_window_view(padded, 7, axis=-1), axis=-1)
    assert np.array_equal(median_filter(x, 7).numpy(), expected)


def test_lone_punctuation_joins_its_word() -> None:
    """Catches: punctuation reported as a word of its own (with a time of its own)."""
    words = [WordTiming(" Hello", 0, 0.0, 0.4, 0.9), WordTiming(",", 1, 0.4, 0.5, 0.9),
             WordTiming(" \"", 2, 0.5, 0.6, 0.9), WordTiming("world", 3, 0.6, 1.0, 0.9)]
    merged = merge_punctuation(words)
    assert [w.word for w in merged] == [" Hello,", " \"world"]
    assert (merged[0].start, merged[0].end) == (0.0, 0.4)
