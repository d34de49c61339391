"""``transcribe_audio``: the timed transcript of a session, whole or between two times, in four formats."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from aero_agent.render import transcript_excerpt
from langchain_aero.base import AudioTool, SessionInput, TranscriptFormat, num_speakers_field, speakers_field
from langchain_aero.store_vocabulary import vocabulary_field


DESCRIPTION = (
    "Transcript of an open audio session, whole or between start_s and end_s seconds, as plain text, SRT, "
    "WebVTT, JSON with segment and word times, or RTTM speaker turns; speakers=true labels who speaks (once). "
    "Long transcripts are cut at the end of a segment; call again with "
    "start_s set to read on.")
"""What the model reads about the tool."""


class TranscribeAudioInput(SessionInput):
    start_s: float | None = Field(default=None, description="Start of the part to transcribe, in seconds from the "
                                                            "beginning; omit for the beginning.")
    end_s: float | None = Field(default=None, description="End of the part to transcribe, in seconds; omit for the "
                                                          "end of the recording.")
    format: TranscriptFormat = Field(default="text", description=(
        "'text' (plain words; 'SPEAKER_xx:' lines when diarized), 'srt' or 'vtt' (timed subtitles), 'json' "
        "(segments with word times, speakers and music/singing/sound events), or 'rttm' (speaker turns)."))
    events: bool = Field(default=False, description=(
        "Mark music, singing and other sound as [music], [singing], [sound] lines in text, srt and vtt."))
    speakers: bool = speakers_field()
    num_speakers: int | None = num_speakers_field()
    vocabulary: list[str] | None = vocabulary_field()


class TranscribeAudioTool(AudioTool):
    name: str = "transcribe_audio"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = TranscribeAudioInput

    def _call(self, session_id: str, start_s: float | None = None, end_s: float | None = None,
              format: str = "text", events: bool = False, speakers: bool = False,
              num_speakers: int | None = None,
              vocabulary: list[str] | None = None) -> tuple[str, Any]:
        session = self._session(session_id)
        if speakers or num_speakers is not None:
            session.ensure_speakers(True, num_speakers)
        if vocabulary:  # the stretch decoded again with the terms, which the session keeps
            session.retranscribe(start_s, end_s, vocabulary)
        transcript = session.transcribe(start_s, end_s)
        live = session.info.status == "live"
        progress = None if live else session.info.progress
        excerpt = transcript_excerpt(transcript, format, self.max_output_chars, progress, events)
        text = excerpt.text + "".join(f"\n[{note}]" for note in excerpt.notes)
        artifact = {"session_id": session_id, "format": format, "start_s": start_s, "end_s": end_s,
                    "text": transcript.text, **transcript.model_dump()}
        return text, artifact
