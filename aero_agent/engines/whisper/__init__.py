"""The Whisper engine: embedded offline tiny.en by default, or any transformers Whisper checkpoint."""

from aero_agent.engines.whisper.engine import WhisperEngine

__all__ = ["WhisperEngine"]
