"""``append_audio``: the next chunk of a live session's audio."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from aero_agent.live import MAX_BASE64_CHARS, decode_base64_chunk
from aero_agent.render import live_update_text
from langchain_aero.base import AudioTool, SessionInput, session_artifact


DESCRIPTION = (
    "Append the next chunk of a live session's audio, in order (at most 60 s, base64). Returns the segments "
    "that became final with it and the partial tail that may still change. A bad chunk is refused and the "
    "text so far is kept.")
"""What the model reads about the tool."""


class AppendAudioInput(SessionInput):
    audio_base64: str = Field(max_length=MAX_BASE64_CHARS, description="The next chunk of audio, base64-encoded.")
    format: Literal["s16le", "wav"] = Field(default="s16le", description="'s16le': raw signed 16-bit little-endian "
                                            "16 kHz mono samples; 'wav': a WAV file of 16 kHz mono.")


class AppendAudioTool(AudioTool):
    name: str = "append_audio"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = AppendAudioInput

    def _call(self, session_id: str, audio_base64: str, format: str = "s16le") -> tuple[str, Any]:
        session = self._session(session_id)
        update = session.feed(decode_base64_chunk(audio_base64, format))
        stats, transcript = session.live_stats, session.transcribe()
        partial = " ".join(s.text for s in update.partial)
        behind = stats.behind_s if stats is not None and stats.lagging else None
        text = live_update_text(update.final, partial, session.info.duration_s, len(transcript.segments), behind)
        return text, session_artifact(session.info, final=[s.model_dump() for s in update.final],
                                      partial_text=partial, lagging=behind is not None, behind_s=behind or 0.0)
