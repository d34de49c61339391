"""``open_audio``: decode and encode a file once, and get the session id every other tool takes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, field_validator

from aero_agent.transcription import MAX_BEAM, TranscribeOptions
from aero_agent.paths import allowed_roots, resolve_allowed
from aero_agent.render import language_phrase
from langchain_aero.base import AudioTool, num_speakers_field, session_artifact, speakers_field
from langchain_aero.store_vocabulary import vocabulary_field


DESCRIPTION = (
    "Open an audio file once and get a session_id for it. The recording is decoded and encoded a single "
    "time; every other audio tool then works on the session_id without re-reading the file. With speakers=true "
    "it also finds who speaks when (segments labelled SPEAKER_00, ...). Opening a file that is already open "
    "returns its session. Returns the session id, duration, engine and status.")
"""What the model reads about the tool."""


class OpenAudioInput(BaseModel):
    path: str = Field(description="Path of an audio or video file (wav, flac, mp3, ogg, m4a, mp4...) inside the "
                                  "allowed folders; relative paths are taken from the first allowed folder.")
    reuse: bool = Field(default=True, description="Return the existing session when this unchanged file is already "
                                                  "open (ready or encoding); false encodes it again as a new session.")
    speakers: bool = speakers_field()
    num_speakers: int | None = num_speakers_field()
    language: str | None = Field(default=None, max_length=32, description=(
        "The spoken language: auto to detect it, or a code such as de, es, fr (default: English for the "
        "English-only tiny.en, detection for multilingual models)."))
    task: Literal["transcribe", "translate"] = Field(default="transcribe", description=(
        "translate writes an English translation (multilingual models only)."))
    beam_size: int | None = Field(default=None, ge=1, le=MAX_BEAM, description=(
        "Hypotheses kept while decoding: 1 greedy, 5 as faster-whisper. Empty: the engine's measured choice."))
    vocabulary: list[str] | None = vocabulary_field()


class OpenAudioTool(AudioTool):
    name: str = "open_audio"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = OpenAudioInput
    toolkit_fields: ClassVar[tuple[str, ...]] = ("allowed_dirs", "engine", "wait")

    allowed_dirs: list[Path] = Field(default_factory=lambda: allowed_roots(None),
                                     description="Folders files may be opened from (default: current directory).")
    engine: Any = Field(default=None, exclude=True,
                        description="Engine for new sessions; None uses the store's engine.")
    wait: bool = Field(default=True, description="Wait for encoding to finish before returning.")

    @field_validator("allowed_dirs", mode="before")
    @classmethod
    def _resolve_dirs(cls, value: Any) -> list[Path]:
        return allowed_roots(None if value is None else ([value] if isinstance(value, (str, Path)) else value))

    def _call(self, path: str, reuse: bool = True, speakers: bool = False, num_speakers: int | None = None,
              language: str | None = None, task: str = "transcribe", beam_size: int | None = None,
              vocabulary: list[str] | None = None) -> tuple[str, Any]:
        real = resolve_allowed(path, self.allowed_dirs)
        transcription = TranscribeOptions.of(language, task, beam_size, vocabulary)
        session, reused = self.store.open_audio(real, engine=self.engine, wait=self.wait, reuse=reuse,
                                                speakers=speakers, num_speakers=num_speakers,
                                                transcription=transcription)
        if reused and self.wait and session.info.status == "encoding":
            self.store.wait(session.id)  # opened in the background by an earlier call
        info = session.info.model_copy()
        name = Path(info.source).name or path
        opened = (f"Reused session {info.id}, already open for {name}," if reused
                  else f"Opened {name} as session {info.id}")
        text = (f"{opened} ({info.duration_s:.1f} s, "
                f"engine {info.engine} {info.model_id}{language_phrase(info)}, status {info.status}). Pass session_id=\"{info.id}\" to "
                "transcribe_audio, ask_audio, search_audio and extract_from_audio.")
        if info.speakers is not None:
            text += f" {info.speakers} speaker(s) found: list_speakers lists them."
        if info.status == "encoding":
            text += " Encoding continues in the background; list_audio_sessions shows its progress."
        if not session.engine.capabilities.answer and session.reasoner is None:
            text += (" This engine only transcribes: ask_audio answers with the best-matching transcript passages "
                     "and extract_from_audio is not available.")
        return text, session_artifact(info, reused=reused)
