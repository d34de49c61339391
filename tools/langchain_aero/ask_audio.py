"""``ask_audio``: a question about a session, answered with the transcript evidence it rests on."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from aero_agent.render import answer_text
from langchain_aero.base import AudioTool, SessionInput


DESCRIPTION = (
    "Ask a question about an open audio session and get an answer with the transcript passages (and times) it "
    "rests on. The session remembers earlier questions, so follow-ups work. With a transcript-only engine and "
    "no reasoner the answer is the best-matching transcript evidence.")
"""What the model reads about the tool."""


class AskAudioInput(SessionInput):
    question: str = Field(description="A question about the recording. Follow-up questions may refer to earlier "
                                      "ones: the session keeps the conversation.")
    speaker: str | None = Field(default=None, description="Only evidence said by this speaker (SPEAKER_00...), "
                                                          "for a diarized session.")


class AskAudioTool(AudioTool):
    name: str = "ask_audio"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = AskAudioInput

    def _call(self, session_id: str, question: str, speaker: str | None = None) -> tuple[str, Any]:
        answer = self._session(session_id).ask(question, speaker=speaker)
        artifact = {"session_id": session_id, **answer.model_dump()}
        return self._clip(answer_text(answer), "answer cut; the artifact holds all of it"), artifact
