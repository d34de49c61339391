"""aero-agent: ears for AI agents. Open a long recording once, then transcribe, ask, search and extract.

The public names load on first use (PEP 562), so importing an engine needs only the model libraries:
audio decoding, the store and the skins are imported when something asks for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "AudioClip": "aero_agent.audio", "load_audio": "aero_agent.audio",
    "default_engine": "aero_agent.engines", "load_engine": "aero_agent.engines",
    "Answer": "aero_agent.results", "Extraction": "aero_agent.results", "SearchHit": "aero_agent.results",
    "Turn": "aero_agent.results",
    "AudioSession": "aero_agent.session", "SessionInfo": "aero_agent.results",
    "SessionStore": "aero_agent.store",
    "Segment": "aero_agent.transcript", "Transcript": "aero_agent.transcript",
    "LiveOptions": "aero_agent.live", "LiveUpdate": "aero_agent.live",
    "TranscribeOptions": "aero_agent.transcription",
}

__all__ = sorted(_EXPORTS) + ["__version__"]

if TYPE_CHECKING:
    from aero_agent.audio import AudioClip, load_audio
    from aero_agent.engines import default_engine, load_engine
    from aero_agent.transcription import TranscribeOptions
    from aero_agent.live import LiveOptions, LiveUpdate
    from aero_agent.results import Answer, Extraction, SearchHit, SessionInfo, Turn
    from aero_agent.session import AudioSession
    from aero_agent.store import SessionStore
    from aero_agent.transcript import Segment, Transcript


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'aero_agent' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
