"""Voice activity, non-speech events and Whisper's guards, on the real clips of ../shared/speech."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from aero_agent.audio import AudioClip, load_audio
from aero_agent.engines.whisper.chunking import SpeechMap, Window
from aero_agent.engines.whisper.search import decode_windows
from aero_agent.engines.whisper.engine import Job
from aero_agent.evaluation import podcast_recording, word_error_rate
from aero_agent.vad import FRAME, SileroVad, VadOptions, speech_regions


@pytest.fixture(scope="module")
def speech_dir(speech_manifest) -> Path:
    return Path(speech_manifest[0]["abs_path"]).parent.parent


@pytest.fixture(scope="module")
def vad() -> SileroVad:
    return SileroVad()


def _clip(speech_dir: Path, clip_id: str) -> AudioClip:
    return load_audio(speech_dir / "clips" / f"{clip_id}.wav")


def test_model_loads_without_importing_the_package() -> None:
    """Catches: importing silero_vad (which sets torch's global thread count and wants torchaudio for audio)."""
    code = ("import sys, torch; torch.set_num_threads(2); from aero_agent.vad import SileroVad; SileroVad();"
            "print('silero_vad' in sys.modules, torch.get_num_threads())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "2"]


def test_blocks_on_two_threads_give_the_same_probabilities(vad: SileroVad, speech_dir: Path) -> None:
    """Catches: blocks run on threads written to the wrong place, or sharing one model's recurrent state."""
    samples = _clip(speech_dir, "librivox_shakespeare_sonnet_1").samples[: 40 * 16000]  # 5 rows of 8 s
    alone = SileroVad(threads=1)
    one = alone.probabilities(samples, block_rows=1)
    assert np.array_equal(vad.probabilities(samples, block_rows=1), one)  # 5 blocks: 3 on one thread, 2 on the other
    assert len(vad.models) == 2 or os.cpu_count() == 1  # the second copy, loaded by the first call that needed it
    assert np.array_equal(vad.probabilities(samples, block_rows=1, start_frame=100),
                          alone.probabilities(samples, block_rows=1, start_frame=100))
    assert np.allclose(vad.probabilities(samples), one, atol=1e-5)  # one block of 5 rows


def test_regions_find_speech_and_skip_music(vad: SileroVad, speech_dir: Path) -> None:
    """Catches: an inverted or ignored threshold, regions in samples mistaken for frames."""
    jfk = _clip(speech_dir, "jfk_inaugural_1961").samples
    regions = vad.regions(jfk)
    covered = sum(r.duration_s for r in regions)
    assert 7.0 < covered < 10.5 and regions[0].start_s < 0.6 and regions[-1].end_s > 9.5
    assert vad.regions(_clip(speech_dir, "music_brahms_hungarian_dance_5").samples) == []


def test_batched_probabilities_match_frame_by_frame(vad: SileroVad, speech_dir: Path) -> None:
    """Catches: stretches stitched at the wrong offset or reported with their warm-up frames."""
    samples = _clip(speech_dir, "librivox_shakespeare_sonnet_1").samples[: 20 * 16000]
    batched, single = vad.probabilities(samples), SileroVad(row_s=1e6).probabilities(samples)
    assert batched.shape == single.shape == (-(-len(samples) // FRAME),)
    assert np.mean(np.abs(batched - single)) < 0.02


def test_region_hysteresis_padding_and_short_bursts() -> None:
    """Catches: a short pause splitting speech, a long one not splitting it, bursts kept, padding lost."""
    probs = np.zeros(200, dtype=np.float32)
    probs[10:40] = 0.9
    probs[43:70] = 0.9   # a 3-frame (96 ms) pause: same region
    probs[100:130] = 0.9  # after a long pause: a new region
    probs[160:163] = 0.9  # a 96 ms burst: dropped
    options = VadOptions(speech_pad_s=0.0, min_silence_s=0.3)
    regions = speech_regions(probs, 200 * FRAME, options)
    assert [(r.start // FRAME, r.end // FRAME) for r in regions] == [(10, 70), (100, 130)]
    padded = speech_regions(probs, 200 * FRAME, replace(options, speech_pad_s=0.1))
    assert padded[0].start == 10 * FRAME - 1600 and padded[0].end == 70 * FRAME + 1600


def test_windows_end_at_the_longest_pause() -> None:
    """Catches: a window filled up to its last pause before 30 s (ending on a phrase edge), or cut before
    ``min_s``, when a longer pause lies between them."""
    frames_s = lambda s: int(round(s * 16000 / FRAME))  # noqa: E731
    probs = np.zeros(frames_s(45.0), dtype=np.float32)
    for a, b in [(0.0, 10.0), (10.5, 17.0), (18.5, 28.0), (28.5, 40.0)]:  # pauses 0.5, 1.5 (at 17 s), 0.5 s
        probs[frames_s(a): frames_s(b)] = 0.9
    silent = np.zeros(len(probs) * FRAME, dtype=np.float32)
    smap = SpeechMap(silent, probs, VadOptions(speech_pad_s=0.0))
    cuts = [round(w.end / 16000, 1) for w in smap.speech_windows()]
    assert cuts == [17.0, 40.0]
    assert [round(w.end / 16000, 1) for w in smap.speech_windows(min_s=20.0)] == [28.0, 40.0]


def test_non_speech_clips_give_no_words_and_an_event(engine, speech_dir: Path) -> None:
    """Catches: music, noise or animal sounds decoded into words (4 of these 6 clips gave 'Thank you.',
    'you you' or 'you.' before), or sound reported as silence."""
    rows = [json.loads(line) for line in (speech_dir / "manifest.jsonl").read_text().splitlines() if line.strip()]
    ids = [r["id"] for r in rows if r["kind"] == "nonspeech"]
    assert len(ids) == 6
    transcripts = engine.transcribe_clips([_clip(speech_dir, i) for i in ids])
    for clip_id, transcript in zip(ids, transcripts):
        assert transcript.segments == [], (clip_id, transcript.text)
        assert transcript.events and all(e.kind in ("music", "singing", "sound") for e in transcript.events), clip_id
        if clip_id.startswith("music_"):  # typed: the music clips come out as music (tests/test_sound_events.py)
            assert any(e.kind == "music" for e in transcript.events), (clip_id, transcript.events)
        assert transcript.render("srt") == "" and transcript.text == ""


def test_podcast_join_transcribes_like_speech_alone(engine, speech_dir: Path) -> None:
    """Catches: music or noise decoded into words around the speech (WER 173 % before), speech lost at the
    joins, and the music and noise missing from the events. The joined recording may differ from the clips
    alone by one word of its 37 (numerics decide between "25-30 years" and "25 to 30 years")."""
    recording = podcast_recording(speech_dir)
    joined = engine.transcribe_clips([AudioClip(recording.samples, "podcast", 16000, 1)])[0]
    alone = engine.transcribe_clips([_clip(speech_dir, clip_id) for clip_id, _, _ in recording.spans])
    wer_joined = word_error_rate([recording.reference], [joined.text]).wer
    wer_alone = word_error_rate([recording.reference], [" ".join(t.text for t in alone)]).wer
    print(f"podcast WER {wer_joined:.4f}, speech alone {wer_alone:.4f}")
    assert wer_joined <= wer_alone + 1 / len(recording.reference.split()) + 1e-9  # one word: "25-30" or "25 to 30"
    first_speech, last_speech = recording.spans[0][1], recording.spans[-1][2]
    assert any(e.start < 1.0 and e.end > first_speech - 1.0 for e in joined.events)  # the opening music
    assert any(e.end > recording.duration_s - 1.0 and e.start < last_speech + 1.0 for e in joined.events)
    assert all(s.start >= first_speech - 0.5 and s.end <= last_speech + 0.5 for s in joined.segments)


def test_guards_drop_a_hallucination(engine, speech_dir: Path) -> None:
    """Catches: guards not applied to doubtful sound (whale song decodes to 'Mmm... Mmm... Mmm...'), or
    applied so hard that real speech is dropped too."""
    whale, jfk = _clip(speech_dir, "whale_humpback_song").samples, _clip(speech_dir, "jfk_inaugural_1961").samples
    smap = engine.speech_map(whale)
    job = Job.of(0, whale, Window(0, len(whale), doubtful=True), smap)
    encoded = engine._encode_batch([job])
    decoded = decode_windows(engine.runner, encoded, engine.special, [job.duration_s])[0]
    text = engine.tokenizer.decode([t for t in decoded.tokens if t < engine.special.eot])
    assert text.strip()  # the decoder alone hallucinates here
    assert not engine.options.guards.accepts(decoded, text, doubtful=True)
    assert engine._decode_batch([job], engine.runner.cross_keys_values(encoded)) == [[]]
    speech = Job.of(0, jfk, Window(0, len(jfk), doubtful=True), engine.speech_map(jfk))
    assert engine._decode_batch([speech], engine._cross(engine._encode_batch([speech])))[0]  # real speech passes as doubtful


def test_speech_the_detector_rejects_is_still_heard(engine, speech_dir: Path) -> None:
    """Catches: a gate that only trusts the detector (whispered speech, which Silero scores low, would vanish)."""
    deaf = copy.copy(engine)
    deaf.options = replace(engine.options, vad=VadOptions(threshold=1.01))  # the detector finds nothing
    clip = _clip(speech_dir, "mfa_whisper")
    assert deaf.speech_map(clip.samples).regions == []
    transcript = deaf.transcribe_clips([clip])[0]
    assert word_error_rate(["this is all very whispered"], [transcript.text]).wer <= 0.4, transcript.text


def test_captions_of_sound_are_not_words() -> None:
    """Catches: Whisper's captions for sound ('Music', '[Applause]', notes) kept as transcript text, while a
    sentence that merely mentions music stays."""
    from aero_agent.engines.whisper.guards import is_caption

    assert all(is_caption(t) for t in (" Music", " [Music]", "(laughs)", " ♪ ♪", " ."))
    assert not any(is_caption(t) for t in (" Music is great", " Thank you.", " No."))
