"""A voice print from sample recordings of one voice: speech found by Silero VAD, refused when there is none
(or too little) or when the diarizer hears a second voice with a real share of the speech."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from aero_agent.voices.errors import NoSpeechError, SeveralVoicesError
from aero_agent.voices.prints import VoicePrint, embed_regions, summarise

MIN_SPEECH_S = 1.5
"""Less speech than one embedding window is refused: it cannot be told from another voice."""
SECOND_VOICE_SHARE = 0.25
"""A second speaker with at least this share of the speech, whose voice is unlike the first, refuses a sample."""
SAME_VOICE = 0.81
"""Cosine similarity of the two largest speakers' mean embeddings above which they are one voice the diarizer
split. Single-voice LibriSpeech samples the diarizer split this way measured 0.83-0.88 (6 of 45 files checked;
tuning speakers 2033, 1040, 1743, 1970 among them); the two people of AMI ES2003a (tuning) 0.78."""


def speech_of(samples: np.ndarray) -> list[tuple[float, float]]:
    from aero_agent.speakers.labelling import speech_regions

    return speech_regions(None, samples)


def check_one_voice(samples: np.ndarray, speech: Sequence[tuple[float, float]], what: str) -> None:
    """Raise :class:`SeveralVoicesError` when the diarizer finds two voices with real shares of ``speech``."""
    from aero_agent.speakers import EmbeddingDiarizer
    from aero_agent.speakers.labelling import torch_threads

    with torch_threads(1):
        turns = EmbeddingDiarizer().diarize(samples, speech)
    talk: dict[str, float] = {}
    for turn in turns:
        talk[turn.speaker] = talk.get(turn.speaker, 0.0) + turn.end - turn.start
    if len(talk) < 2:
        return
    ranked = sorted(talk, key=talk.get, reverse=True)  # type: ignore[arg-type]
    total = sum(talk.values())
    if talk[ranked[1]] / total < SECOND_VOICE_SHARE:
        return
    spans = {s: [(t.start, t.end) for t in turns if t.speaker == s] for s in ranked[:2]}
    first, second = (embed_regions(samples, spans[s]).mean(axis=0) for s in ranked[:2])
    similarity = float(first @ second / max(np.linalg.norm(first) * np.linalg.norm(second), 1e-12))
    if similarity < SAME_VOICE:
        raise SeveralVoicesError(f"{what} holds more than one voice ({talk[ranked[1]] / total:.0%} of its speech is "
                                 "a second speaker); give samples of one voice only, or name the speaker of a "
                                 "diarized session instead")


def sample_print(samples: np.ndarray, what: str = "the sample") -> VoicePrint:
    """The print of one voice's sample (16 kHz mono), checked for speech and for a single voice."""
    speech = speech_of(samples)
    seconds = sum(b - a for a, b in speech)
    if seconds < MIN_SPEECH_S:
        raise NoSpeechError(f"{what} has {seconds:.1f} s of speech; a voice needs at least {MIN_SPEECH_S} s")
    check_one_voice(samples, speech, what)
    embeddings = embed_regions(samples, speech)
    return summarise(embeddings, seconds)
