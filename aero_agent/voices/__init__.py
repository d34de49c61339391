"""Voices across recordings: a library of named voices kept in the store (GE2E embeddings, mode 600), taught
from sample files or by naming a diarized session's speaker, and recognised in every session (an assignment
of speaker centroids to voices with a rejection threshold)."""

from aero_agent.voices.errors import (
    NoSpeechError,
    SeveralVoicesError,
    VoiceInUseError,
    VoiceNameTakenError,
    VoiceNotFoundError,
)
from aero_agent.voices.models import SpeakerVoice, VoiceInfo
from aero_agent.voices.service import Voices, check_name

__all__ = ["NoSpeechError", "SeveralVoicesError", "SpeakerVoice", "VoiceInUseError", "VoiceInfo",
           "VoiceNameTakenError", "VoiceNotFoundError", "Voices", "check_name"]
