"""Names onto a session: a diarized transcript with each recognised speaker's voice name in place of its
``SPEAKER_xx`` label (resolved when read, so a renamed or forgotten voice shows at once), and the prints a
diarization leaves for later recognition."""

from __future__ import annotations

from typing import Any

from aero_agent.speakers.base import SpeakerWindows
from aero_agent.transcript import Transcript
from aero_agent.voices.models import SpeakerVoice
from aero_agent.voices.prints import VoicePrint, speaker_prints


def named(transcript: Transcript, voices: dict[str, SpeakerVoice]) -> Transcript:
    """``transcript`` with the names of the recognised speakers in ``voices`` (label -> voice)."""
    known = {label: v for label, v in voices.items() if v.name}
    if not known or not transcript.has_speakers:
        return transcript
    segments = [s.model_copy(update={"speaker": known[s.speaker].name}) if s.speaker in known else s
                for s in transcript.segments]
    out = transcript.model_copy(update={"segments": segments})
    out._voices = {v.name: (label, v.voice_id, v.confidence) for label, v in known.items()}  # type: ignore[misc]
    return out


def label_of(transcript: Transcript, speaker: str) -> str:
    """The ``SPEAKER_xx`` label behind a shown speaker (a voice name or the label itself)."""
    entry = transcript._voices.get(speaker)
    return entry[0] if entry else speaker


def transcript_prints(transcript: Transcript, samples: Any,
                      windows: SpeakerWindows | None = None) -> dict[str, VoicePrint]:
    """Prints of a diarized transcript's speakers from their segments' clean windows (the diarizer's
    ``windows`` when given)."""
    return speaker_prints(samples, [(s.start, s.end, s.speaker) for s in transcript.segments], windows)
