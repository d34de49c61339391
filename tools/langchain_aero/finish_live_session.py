"""``finish_live_session``: end a live session; every word becomes final."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from langchain_aero.base import AudioTool, SessionInput, session_artifact


DESCRIPTION = (
    "Finish a live audio session: the rest of its audio is decoded and every word becomes final. It is then an "
    "ordinary ready session for transcribe_audio, search_audio and ask_audio (finishing twice is harmless).")
"""What the model reads about the tool."""


class FinishLiveSessionInput(SessionInput):
    pass


class FinishLiveSessionTool(AudioTool):
    name: str = "finish_live_session"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = FinishLiveSessionInput

    def _call(self, session_id: str) -> tuple[str, Any]:
        session = self._session(session_id)
        transcript = session.finish()
        return (f"Finished live session {session_id}: {session.info.duration_s:.1f} s, "
                f"{len(transcript.segments)} segments.",
                session_artifact(session.info, segments=len(transcript.segments), text=transcript.text))
