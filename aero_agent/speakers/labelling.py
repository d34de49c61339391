"""Speakers onto a session's transcript: speech regions from the engine's voice activity detector (or Silero
VAD directly), the diarizer over them, and the assignment of its turns to segments and words."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from aero_agent.errors import CapabilityError
from aero_agent.speakers.base import Diarization, DiarizationOptions, Diarizer, SpeakerWindows
from aero_agent.speakers.assign import assign_speakers
from aero_agent.threads import torch_threads
from aero_agent.transcript import Transcript


def check_can_diarize(engine: Any) -> None:
    """Raise :class:`CapabilityError` unless ``engine`` writes timed transcripts (speakers are given to times),
    and :class:`~aero_agent.errors.CheckpointError` when the speaker encoder's weights are not installed;
    both before any audio is decoded."""
    caps = engine.capabilities
    if not (caps.transcribe and caps.timestamps):
        raise CapabilityError(f"the {engine.name} engine ({engine.model_id}) does not write a timed transcript, "
                              "so speakers cannot be given to what was said; use engine 'whisper'")
    from aero_agent.speakers.weights import encoder_weights_path

    encoder_weights_path()


def speech_regions(engine: Any, samples: np.ndarray) -> list[tuple[float, float]]:
    """Speech regions (seconds) of ``samples``: the engine's own when it has a voice activity detector (the
    same regions its transcript was decoded from), else Silero VAD's."""
    with torch_threads(1):
        if hasattr(engine, "speech_map"):
            regions = engine.speech_map(samples).regions
        else:
            from aero_agent.vad import SileroVad

            regions = SileroVad().regions(samples)
    return [(r.start_s, r.end_s) for r in regions]


def label_transcript(transcript: Transcript, samples: np.ndarray, options: DiarizationOptions, engine: Any,
                     diarizer: Diarizer | None = None,
                     speech: Sequence[tuple[float, float]] | None = None) -> Transcript:
    """``transcript`` with a speaker on every segment (split at changes of speaker), marked ``diarized``.

    A recording without speech comes back with no labels and ``diarized=True``: no speaker was heard.
    """
    return label_with_windows(transcript, samples, options, engine, diarizer, speech)[0]


def label_with_windows(transcript: Transcript, samples: np.ndarray, options: DiarizationOptions, engine: Any,
                       diarizer: Diarizer | None = None, speech: Sequence[tuple[float, float]] | None = None
                       ) -> tuple[Transcript, SpeakerWindows | None]:
    """:func:`label_transcript`, and the diarizer's embedded windows when it gives them (the embedding
    diarizer does; voice prints are made from them without a second encoder pass)."""
    if diarizer is None:
        from aero_agent.speakers import default_diarizer

        diarizer = default_diarizer()
    regions = list(speech) if speech is not None else speech_regions(engine, samples)
    result = Diarization([], None)
    if regions:
        with torch_threads(1):
            run = getattr(diarizer, "run", None)
            result = run(samples, regions, options) if callable(run) else \
                Diarization(diarizer.diarize(samples, regions, options), None)
    return assign_speakers(transcript, result.turns).model_copy(update={"diarized": True}), result.windows
