"""The Whisper engine: embedded offline tiny.en by default, or any transformers Whisper checkpoint."""

from typing import Any

__all__ = ["WhisperEngine"]


def __getattr__(name: str) -> Any:
    # lazy, so the model code (checkpoint, decoding, features) imports without the engine's dependencies
    if name == "WhisperEngine":
        from aero_agent.engines.whisper.engine import WhisperEngine

        return WhisperEngine
    raise AttributeError(f"module 'aero_agent.engines.whisper' has no attribute {name!r}")
