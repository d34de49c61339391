"""The offline speaker diarizer (aero_agent.speakers) on real speech: the GE2E voice encoder on resemblyzer's
weights, clustering with an automatic or fixed speaker count, and speaker assignment to timed words.

Speech regions come from the Whisper engine's Silero VAD (``engine.speech_map``), as a caller would pass them.
"""

from __future__ import annotations

import numpy as np
import pytest

from aero_agent.audio import load_audio
from aero_agent.errors import InvalidArgumentError
from aero_agent.speakers import DiarizationOptions, assign_speakers, default_diarizer
from aero_agent.speakers.encoder import shared_voice_encoder
from aero_agent.speakers.features import SAMPLE_RATE
from aero_agent.speakers.windows import plan_windows
from aero_agent.transcript import Segment, Transcript, Word
from speech_data import SPEECH_DIR, require_speech

AMI = SPEECH_DIR / "diarization" / "ami_ES2003b_0" / "ami_ES2003b_0.wav"


def _embedding(path) -> np.ndarray:
    samples = load_audio(path).samples
    duration = len(samples) / SAMPLE_RATE
    embeddings, _ = default_diarizer().embed(samples, plan_windows([(0.0, duration)], duration, 1.5, 0.75))
    mean = embeddings.mean(axis=0)
    return mean / np.linalg.norm(mean)


def test_same_speaker_is_closer_than_another_speaker():
    """Catches a broken encoder or front end (wrong mel scale, weights not loaded, no normalisation): two clips of
    one LJ Speech reader must be closer than either is to a LibriSpeech reader."""
    require_speech()
    clips = SPEECH_DIR / "clips"
    a = _embedding(clips / "ljspeech_LJ001-0001.wav")
    b = _embedding(clips / "ljspeech_LJ001-0002.wav")
    other = _embedding(next(clips.glob("librispeech_*.wav")))
    assert shared_voice_encoder() is shared_voice_encoder()  # loaded once per process
    same, different = float(a @ b), max(float(a @ other), float(b @ other))
    assert same > different + 0.1, (same, different)


def test_ami_meeting_gets_its_two_speakers(engine):
    """Catches clustering that merges everyone into one speaker or splits per window, and num_speakers ignored:
    a real AMI meeting excerpt with two talkers."""
    require_speech()
    samples = load_audio(AMI).samples
    speech = [(r.start_s, r.end_s) for r in engine.speech_map(samples).regions]
    diarizer = default_diarizer()
    auto = diarizer.diarize(samples, speech)
    assert 2 <= len({t.speaker for t in auto}) <= 3
    fixed = diarizer.diarize(samples, speech, DiarizationOptions(num_speakers=2))
    assert {t.speaker for t in fixed} == {"SPEAKER_00", "SPEAKER_01"}
    assert all(a.end <= b.start + 1e-6 for a, b in zip(fixed, fixed[1:]))  # ordered, not overlapping


def test_bad_counts_are_typed_errors_and_silence_gives_no_turns():
    """Catches out-of-range counts accepted (num_speakers=0, min above max) and a crash on a recording with no
    speech."""
    for bad in ({"num_speakers": 0}, {"num_speakers": 99}, {"min_speakers": 3, "max_speakers": 2},
                {"num_speakers": 2, "min_speakers": 1}):
        with pytest.raises(InvalidArgumentError):
            DiarizationOptions(**bad)
    assert default_diarizer().diarize(np.zeros(5 * SAMPLE_RATE, dtype=np.float32), []) == []


def test_a_segment_spanning_a_change_is_split_at_the_words():
    """Catches assignment by segment only: a segment whose words fall into two speakers' turns becomes two."""
    from aero_agent.speakers import SpeakerTurn

    words = [Word(start=0.1, end=0.5, word=" hello"), Word(start=0.6, end=0.9, word=" there."),
             Word(start=2.1, end=2.5, word=" Hi"), Word(start=2.6, end=3.0, word=" back.")]
    transcript = Transcript(segments=[Segment(start=0.0, end=3.0, text="hello there. Hi back.", words=words)],
                            duration_s=3.0)
    turns = [SpeakerTurn(0.0, 1.5, "SPEAKER_00"), SpeakerTurn(1.5, 3.0, "SPEAKER_01")]
    labelled = assign_speakers(transcript, turns)
    assert [(s.speaker, s.text.strip()) for s in labelled.segments] == [("SPEAKER_00", "hello there."),
                                                                       ("SPEAKER_01", "Hi back.")]
