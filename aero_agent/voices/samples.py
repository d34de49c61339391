"""A voice print from sample recordings of one voice: speech found by Silero VAD, refused when there is none
(or too little) or when the diarizer hears a second voice with a real share of the speech."""

from __future__ import annotations

import numpy as np

from aero_agent.speakers.base import Diarization
from aero_agent.voices.errors import NoSpeechError, SeveralVoicesError
from aero_agent.voices.prints import VoicePrint, embed_regions, embeddings_in, summarise

MIN_SPEECH_S = 1.5
"""Less speech than one embedding window is refused: it cannot be told from another voice."""
SECOND_VOICE_SHARE = 0.25
"""A second speaker with at least this share of the speech, whose voice is unlike the first, refuses a sample."""
SAME_VOICE = 0.81
"""Cosine similarity of the two largest speakers' mean embeddings (the diarizer's windows inside their turns)
above which they are one voice the diarizer split. Checked on 90 single-voice LibriSpeech files (the 50
``known/`` ones and 40 ``unknown/``): 13 were split with a second share of 25% or more, at 0.78-0.88; one,
1688-142285-0007 (0.78; 0.79 with a second encoder pass), is refused. The two-person AMI clips: ES2003a 0.75,
ES2003b 0.81 (tuning half), both refused. No value separates every single voice from ES2003b: a sample refused
by mistake asks for other samples, a two-voice sample accepted would teach a wrong voice."""


def speech_of(samples: np.ndarray) -> list[tuple[float, float]]:
    from aero_agent.speakers.labelling import speech_regions

    return speech_regions(None, samples)


def check_one_voice(samples: np.ndarray, diarized: Diarization, what: str) -> None:
    """Raise :class:`SeveralVoicesError` when the diarizer found two voices with real shares of the speech
    (the two speakers' mean embeddings from its own windows inside their turns)."""
    talk: dict[str, float] = {}
    for turn in diarized.turns:
        talk[turn.speaker] = talk.get(turn.speaker, 0.0) + turn.end - turn.start
    if len(talk) < 2:
        return
    ranked = sorted(talk, key=talk.get, reverse=True)  # type: ignore[arg-type]
    total = sum(talk.values())
    if talk[ranked[1]] / total < SECOND_VOICE_SHARE:
        return
    spans = {s: [(t.start, t.end) for t in diarized.turns if t.speaker == s] for s in ranked[:2]}
    first, second = (embeddings_in(samples, diarized.windows, spans[s]).mean(axis=0) for s in ranked[:2])
    similarity = float(first @ second / max(np.linalg.norm(first) * np.linalg.norm(second), 1e-12))
    if similarity < SAME_VOICE:
        raise SeveralVoicesError(f"{what} holds more than one voice ({talk[ranked[1]] / total:.0%} of its speech is "
                                 "a second speaker); give samples of one voice only, or name the speaker of a "
                                 "diarized session instead")


def sample_print(samples: np.ndarray, what: str = "the sample") -> VoicePrint:
    """The print of one voice's sample (16 kHz mono), checked for speech and for a single voice; made from
    the embeddings of the diarizer's pass (one encoder pass in all)."""
    from aero_agent.speakers import EmbeddingDiarizer
    from aero_agent.threads import torch_threads

    speech = speech_of(samples)
    seconds = sum(b - a for a, b in speech)
    if seconds < MIN_SPEECH_S:
        raise NoSpeechError(f"{what} has {seconds:.1f} s of speech; a voice needs at least {MIN_SPEECH_S} s")
    with torch_threads(1):
        diarized = EmbeddingDiarizer().run(samples, speech)
    check_one_voice(samples, diarized, what)
    embeddings = diarized.windows.embeddings if diarized.windows is not None else embed_regions(samples, speech)
    return summarise(embeddings, seconds)
