"""Joins that lose nothing, music that writes nothing, words kept once: the engine on real speech cut at new places.

The recordings are built from clips of the *checking* half of ``benchmarks/split.json`` (voices and music the
engine's thresholds were not chosen on), as ``benchmarks/joins.py`` builds its podcast and shift cases.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from aero_agent.audio import AudioClip, load_audio
from aero_agent.engines.whisper.guards import drop_repeats, is_caption
from aero_agent.evaluation import normalize, word_error_rate
from aero_agent.transcript import Segment, Word

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from joins import build_cases, doubled, words_in_quiet, Heard  # noqa: E402

SR = 16_000
SHIFT_CLIPS = ("librispeech_1272-128104-0000", "fleurs_en_003", "librispeech_61-70968-0000")


@pytest.fixture(scope="module")
def speech_dir(speech_manifest) -> Path:
    return Path(speech_manifest[0]["abs_path"]).parent.parent


def _clip(speech_dir: Path, clip_id: str) -> np.ndarray:
    return load_audio(speech_dir / "clips" / f"{clip_id}.wav").samples.astype(np.float32)


def _run(engine, samples: np.ndarray):
    return engine.transcribe_clips([AudioClip(samples, "joined", SR, 1)])[0]


def _heard(transcript) -> Heard:
    return Heard(transcript.text, [(w.start, w.end, w.word) for s in transcript.segments for w in s.words or []])


def test_a_shifted_recording_keeps_its_words(engine, speech_dir: Path, speech_manifest) -> None:
    """Catches window cuts that drop or double words depending on where they land: the same three clips (51
    words), joined with 0.5 s gaps and preceded by 0 to 1.05 s of faint noise, read alike to within two words
    (tiny.en hears 'cabbage juice' as 'cabot stuze' after silence and right after faint noise: measured
    [3, 3, 1, 1] errors greedy, [4, 1, 1, 1] with beam 5), none doubled, no phrase of four words lost."""
    texts = {r["id"]: r["text"] for r in speech_manifest}
    reference = " ".join(texts[c] for c in SHIFT_CLIPS)
    gap = np.zeros(SR // 2, dtype=np.float32)
    speech = np.concatenate([part for c in SHIFT_CLIPS for part in (_clip(speech_dir, c), gap)])
    rng = np.random.default_rng(3)
    errors = []
    for lead_s in (0.0, 0.35, 0.7, 1.05):
        noise = (rng.standard_normal(int(lead_s * SR)) * 10 ** (-50 / 20)).astype(np.float32)
        text = _run(engine, np.concatenate([noise, speech])).text
        result = word_error_rate([reference], [text])
        errors.append(result.substitutions + result.deletions + result.insertions)
        assert doubled(reference, text) == 0, (lead_s, text)
    assert max(errors) - min(errors) <= 3, errors
    assert max(errors) <= 0.1 * len(normalize(reference).split()), errors


def test_a_shifted_clip_lands_on_the_same_samples_of_its_window(engine, speech_dir: Path) -> None:
    """Catches windows that start on the detector's 32 ms grid (or Whisper's 10 ms frames) of the recording
    rather than on the speech: the same clip (speech rising from its own noise floor) after 0.8 s of silence plus
    0 to 1700 samples has its window start the same distance before its speech, and its window's audio sample for
    sample the same up to the speech's end (the window's end after it is still on the detector's grid), and the
    same transcript."""
    clip = _clip(speech_dir, SHIFT_CLIPS[1])
    lead = int(0.8 * SR)
    heard, first = [], []
    for extra in (0, 53, 160, 1700):
        samples = np.concatenate([np.zeros(lead + extra, np.float32), clip])
        smap = engine.speech_map(samples)
        window = smap.windows()[0]
        first.append((window.start - lead - extra, smap.window_audio(samples, window)[: 80_000]))
        heard.append(_run(engine, samples).text)
    assert len({start for start, _ in first}) == 1, [start for start, _ in first]
    assert all(np.array_equal(first[0][1], audio) for _, audio in first[1:])
    assert len(set(heard)) == 1, heard


def test_music_at_the_start_writes_nothing(engine, speech_dir: Path) -> None:
    """Catches words written inside intro music (the issue saw 'you' there) and speech lost after it: 12 s of
    music, a clip, 6 s of other music; nothing inside either music, the clip as well read as alone."""
    music = _clip(speech_dir, "music_brahms_hungarian_dance_5")[: 12 * SR]
    outro = _clip(speech_dir, "music_vibe_ace")[: 6 * SR]
    clip = _clip(speech_dir, "fleurs_en_003")
    samples = np.concatenate([music, clip, outro])
    transcript = _run(engine, samples)
    words = [(w.start, w.end) for s in transcript.segments for w in s.words or []]
    assert words and all(12.0 - 0.3 <= (a + b) / 2 <= 12.0 + len(clip) / SR + 0.3 for a, b in words), transcript.segments
    alone = _run(engine, clip).text
    assert normalize(transcript.text) == normalize(alone)
    assert transcript.events and transcript.events[0].start < 1.0


def test_a_join_keeps_a_sentence_once(engine, speech_dir: Path) -> None:
    """Catches a sentence written twice: in the checking half's second podcast join the hospital sentence was
    written again over the closing music (a loop inside the window that holds both)."""
    cases = build_cases(speech_dir, "checking", {"podcast"})
    case = next(c for c in cases["podcast"] if c.name == "podcast1")
    alone = next(c for c in cases["alone"] if c.name == "alone1")  # the same clips with 0.6 s gaps only
    transcript = _run(engine, case.samples)
    assert normalize(transcript.text).count("hospital has followed protocol") == 1, transcript.text
    assert doubled(case.reference, transcript.text) == 0
    assert words_in_quiet(case, _heard(transcript)) == []
    joined = word_error_rate([case.reference], [transcript.text])
    apart = word_error_rate([alone.reference], [_run(engine, alone.samples).text])
    errors = [r.substitutions + r.deletions + r.insertions for r in (joined, apart)]
    assert errors[0] <= errors[1] + 4, errors  # measured [6, 2]: numerics flip ('25-30'), 'cabbage juice' varies



def _segment(start: float, text: str) -> Segment:
    words = text.split()
    step = 0.3
    return Segment(start=start, end=start + step * len(words), text=text,
                   words=[Word(start=start + step * k, end=start + step * (k + 1), word=" " + w)
                          for k, w in enumerate(words)])


def test_drop_repeats_keeps_a_word_once_across_a_join() -> None:
    """Catches a loop or a join's word kept twice, and real repetitions (far apart, or one word said twice
    without overlap) removed."""
    looped = drop_repeats([_segment(0.0, "The hospital has followed protocol."),
                           _segment(1.8, "The hospital has followed protocol.")])
    assert [s.text for s in looped] == ["The hospital has followed protocol."]
    joined = drop_repeats([_segment(0.0, "ask what you can do for your"), _segment(2.0, "for your country.")])
    assert [s.text for s in joined] == ["ask what you can do for your", "country."]
    assert joined[1].start == joined[1].words[0].start == 2.6
    overlapping = [_segment(0.0, "ask not what"), _segment(0.5, "what your country")]
    assert [s.text for s in drop_repeats(overlapping)] == ["ask not what", "your country"]
    kept = [_segment(0.0, "No."), _segment(2.0, "No.")]  # one word said twice, apart: both kept
    assert len(drop_repeats(kept)) == 2
    refrain = [_segment(0.0, "row row your boat"), _segment(10.0, "row row your boat")]  # far apart: kept
    assert len(drop_repeats(refrain)) == 2


def test_a_hum_on_music_is_not_a_word() -> None:
    """Catches 'Mmm.' kept as text (tiny.en wrote it on the whale song closing the tuning half's podcast join),
    and words that merely start like a hum, or a listener's 'Mm-hmm', dropped."""
    assert all(is_caption(t) for t in (" Mmm.", " Hmm...", " Mmm... Mmm...", " mm"))
    assert not any(is_caption(t) for t in (" Mm-hmm.", " Hmm, I think so.", " mummy", " Mmm, good."))
