"""``start_live_session``: a session on audio that is still being spoken."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from langchain_aero.utils import AudioTool, session_artifact


DESCRIPTION = (
    "Start a live audio session (a call, a meeting, a lecture still going on). Send its audio in order with "
    "append_audio as it arrives, then call finish_live_session; meanwhile transcribe_audio, search_audio and "
    "ask_audio read the text that is final so far.")
"""What the model reads about the tool."""


class StartLiveSessionInput(BaseModel):
    pass


class StartLiveSessionTool(AudioTool):
    name: str = "start_live_session"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = StartLiveSessionInput

    def _call(self) -> tuple[str, Any]:
        session = self.store.open_live()
        return (f"Live session {session.id} started; send audio with append_audio.",
                session_artifact(session.info))
