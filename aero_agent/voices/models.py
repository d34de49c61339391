"""What the voice library tells callers: names, ids, where voices were heard (never their embeddings)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class VoiceInfo(BaseModel):
    """A named voice, as listed (no embeddings: they never leave the store)."""

    id: str = Field(description="Stable voice id (labels in sessions refer to it).")
    name: str
    sessions: list[str] = Field(default_factory=list, description="Sessions in which the voice was heard.")
    talk_time_s: float = Field(default=0.0, description="Its speech time over those sessions.")
    last_heard: str | None = Field(default=None, description="When the newest of those sessions was labelled.")
    samples: int = Field(default=0, description="Sources it was learned from (sample files and named speakers).")
    created: str
    updated: str


class SpeakerVoice(BaseModel):
    """A session speaker's voice: its anonymous label, and the name, voice id and confidence when known."""

    speaker: str
    name: str | None = None
    voice_id: str | None = None
    confidence: float | None = Field(default=None, description="1.0 when named by a person; else the match's.")
    by: str | None = Field(default=None, description="'named' or 'identified'.")
