"""Who speaks when: a GE2E voice encoder (resemblyzer's weights), clustering with an automatic or given
speaker count, smoothing over time, and the assignment of speakers to transcript segments and words."""

from aero_agent.speakers.assign import assign_speakers, speaker_at
from aero_agent.speakers.base import (
    MAX_SPEAKERS,
    DiarizationOptions,
    Diarizer,
    SpeakerTurn,
    requested_diarization,
    speaker_label,
)
from aero_agent.speakers.diarizer import EmbeddingDiarizer, EmbeddingDiarizerOptions


def default_diarizer() -> EmbeddingDiarizer:
    """The embedded offline diarizer (its encoder is loaded once per process, on first use)."""
    return EmbeddingDiarizer()


__all__ = ["DiarizationOptions", "Diarizer", "EmbeddingDiarizer", "EmbeddingDiarizerOptions", "MAX_SPEAKERS",
           "SpeakerTurn", "assign_speakers", "default_diarizer", "requested_diarization", "speaker_at",
           "speaker_label"]
