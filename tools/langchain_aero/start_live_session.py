"""``start_live_session``: a session on audio that is still being spoken."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from aero_agent.transcription import TranscribeOptions
from aero_agent.live import AnchorArg, ContextArg, LiveOptions, PauseArg, StepArg, WindowArg
from aero_agent.render import language_phrase
from langchain_aero.open_audio import OpenAudioInput
from langchain_aero.base import AudioTool, session_artifact


DESCRIPTION = (
    "Start a live audio session (a call, a meeting, a lecture still going on). Send its audio in order with "
    "append_audio as it arrives, then call finish_live_session; meanwhile transcribe_audio, search_audio and "
    "ask_audio read the text that is final so far. language and task work as in open_audio; window_s, step_s, "
    "pause_s, anchor_s and context_s tune how soon text becomes final against its accuracy (omit them for the defaults).")
"""What the model reads about the tool."""


class StartLiveSessionInput(BaseModel):
    language: str | None = OpenAudioInput.model_fields["language"]
    task: Literal["transcribe", "translate"] = OpenAudioInput.model_fields["task"]
    window_s: WindowArg = None
    step_s: StepArg = None
    pause_s: PauseArg = None
    anchor_s: AnchorArg = None
    context_s: ContextArg = None
    vocabulary: list[str] | None = OpenAudioInput.model_fields["vocabulary"]


class StartLiveSessionTool(AudioTool):
    name: str = "start_live_session"
    description: str = DESCRIPTION
    args_schema: type[BaseModel] = StartLiveSessionInput

    def _call(self, language: str | None = None, task: str = "transcribe", window_s: float | None = None,
              step_s: float | None = None, pause_s: float | None = None,
              anchor_s: float | None = None, context_s: float | None = None,
              vocabulary: list[str] | None = None) -> tuple[str, Any]:
        options = LiveOptions.of(window_s=window_s, step_s=step_s, pause_s=pause_s, anchor_s=anchor_s,
                                 context_s=context_s)
        session = self.store.open_live(options=options, transcription=TranscribeOptions.of(language, task, vocabulary=vocabulary))
        return (f"Live session {session.id} started{language_phrase(session.info)}; send audio with append_audio.",
                session_artifact(session.info))
