"""Voices as text, the same in every skin (no embeddings: they never leave the store)."""

from __future__ import annotations

from typing import Sequence

from aero_agent.voices.models import VoiceInfo


def voice_line(v: VoiceInfo) -> str:
    return (f"{v.name} [{v.id}]: heard in {len(v.sessions)} session(s) ({', '.join(v.sessions) or 'none yet'}), "
            f"{v.talk_time_s:.0f} s of speech, last heard {v.last_heard or 'never'}, learned from {v.samples} "
            "sample(s)")


def voices_text(voices: Sequence[VoiceInfo]) -> str:
    if not voices:
        return ("No named voices yet: name a speaker of a diarized session (name_speaker) or enroll a voice from "
                "sample files (enroll_voice).")
    return f"{len(voices)} voice(s):\n" + "\n".join(voice_line(v) for v in voices)
