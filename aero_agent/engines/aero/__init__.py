"""Aero-1-Audio engine: native loader (no remote code), 15 minutes in one pass, cached follow-up turns."""

from aero_agent.engines.aero.engine import AeroEngine
from aero_agent.engines.aero.prompts import DESCRIBE_PROMPT, TRANSCRIBE_PROMPT

__all__ = ["AeroEngine", "DESCRIBE_PROMPT", "TRANSCRIBE_PROMPT"]
