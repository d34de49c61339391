"""A session: one recording (or live stream) encoded once, then transcribed, asked, searched and extracted.

:mod:`.audio_session` holds :class:`AudioSession`; :mod:`.conversation` its turns; :mod:`.checks` what a caller's
arguments must be."""

from aero_agent.results import SessionInfo
from aero_agent.session.audio_session import AudioSession, new_session_id
from aero_agent.session.checks import MAX_K, MAX_QUESTION_CHARS, check_k, check_query, check_text

__all__ = ["AudioSession", "SessionInfo", "new_session_id", "MAX_K", "MAX_QUESTION_CHARS", "check_k", "check_query",
           "check_text"]
