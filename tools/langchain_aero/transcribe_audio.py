"""``transcribe_audio``: the timed transcript of a session, whole or between two times, in four formats."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from aero_agent.render import transcript_excerpt
from langchain_aero.utils import AudioTool, SessionInput, TranscriptFormat


DESCRIPTION = (
    "Transcript of an open audio session, whole or between start_s and end_s seconds, as plain text, SRT, "
    "WebVTT or JSON with segment times. Long transcripts are cut at the end of a segment; call again with "
    "start_s set to read on.")
"""What the model reads about the tool."""


class TranscribeAudioInput(SessionInput):
    start_s: float | None = Field(default=None, description="Start of the part to transcribe, in seconds from the "
                                                            "beginning; omit for the beginning.")
    end_s: float | None = Field(default=None, description="End of the part to transcribe, in seconds; omit for the "
                                                          "end of the recording.")
    format: TranscriptFormat = Field(default="text", description="'text' (plain words), 'srt' or 'vtt' (timed "
                                                                 "subtitles), or 'json' (segments with times).")


class TranscribeAudioTool(AudioTool):
    name: str = "transcribe_audio"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = TranscribeAudioInput

    def _call(self, session_id: str, start_s: float | None = None, end_s: float | None = None,
              format: str = "text") -> tuple[str, Any]:
        session = self._session(session_id)
        transcript = session.transcribe(start_s, end_s)
        live = session.info.status == "live"
        progress = None if live else session.info.progress
        excerpt = transcript_excerpt(transcript, format, self.max_output_chars, progress)
        text = excerpt.text + "".join(f"\n[{note}]" for note in excerpt.notes)
        artifact = {"session_id": session_id, "format": format, "start_s": start_s, "end_s": end_s,
                    "text": transcript.text, **transcript.model_dump()}
        return text, artifact
