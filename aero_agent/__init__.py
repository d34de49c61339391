"""aero-agent: ears for AI agents. Open a long recording once, then transcribe, ask, search and extract."""

from aero_agent.audio import AudioClip, load_audio
from aero_agent.engines import default_engine, load_engine
from aero_agent.live import LiveOptions, LiveUpdate
from aero_agent.results import Answer, Extraction, SearchHit, Turn
from aero_agent.session import AudioSession, SessionInfo
from aero_agent.store import SessionStore
from aero_agent.transcript import Segment, Transcript

__version__ = "0.1.0"

__all__ = [
    "Answer", "AudioClip", "AudioSession", "Extraction", "LiveOptions", "LiveUpdate", "SearchHit", "Segment", "SessionInfo", "SessionStore",
    "Transcript", "Turn", "default_engine", "load_audio", "load_engine", "__version__",
]
