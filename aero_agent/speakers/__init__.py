"""Who speaks when: a GE2E voice encoder (resemblyzer's weights), clustering with an automatic or given
speaker count, smoothing over time, and the assignment of speakers to transcript segments and words."""

from typing import TYPE_CHECKING, Any

from aero_agent.speakers.assign import assign_speakers, speaker_at
from aero_agent.speakers.base import (
    MAX_SPEAKERS,
    DiarizationOptions,
    Diarizer,
    SpeakerTurn,
    requested_diarization,
    speaker_label,
)

if TYPE_CHECKING:
    from aero_agent.speakers.diarizer import EmbeddingDiarizer, EmbeddingDiarizerOptions

_DIARIZER_NAMES = ("EmbeddingDiarizer", "EmbeddingDiarizerOptions")


def __getattr__(name: str) -> Any:
    """The diarizer's names, imported on first use: it needs torch, and a command that checks its arguments
    and its audio file first should not pay for torch before it refuses a bad one."""
    if name in _DIARIZER_NAMES:
        from aero_agent.speakers import diarizer

        return getattr(diarizer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def default_diarizer() -> "EmbeddingDiarizer":
    """The embedded offline diarizer (its encoder is loaded once per process, on first use)."""
    from aero_agent.speakers.diarizer import EmbeddingDiarizer

    return EmbeddingDiarizer()


__all__ = ["DiarizationOptions", "Diarizer", "EmbeddingDiarizer", "EmbeddingDiarizerOptions", "MAX_SPEAKERS",
           "SpeakerTurn", "assign_speakers", "default_diarizer", "requested_diarization", "speaker_at",
           "speaker_label"]
