"""Real recordings bundled with aero-agent (see ATTRIBUTION.md for their licences)."""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
EXAMPLES = {
    "jfk": "jfk_inaugural_1961.wav",
    "sonnet": "librivox_shakespeare_sonnet_1.wav",
    "meeting": "ami_ES2011a_headset0_40s_46s.wav",
}
EXAMPLE_TEXT = {
    "jfk": "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.",
    "meeting": "I'm Abigail Claflin, you can call me Abbie",
}


def example_path(name: str = "jfk") -> Path:
    """Path of a bundled recording: ``jfk``, ``sonnet`` or ``meeting``."""
    if name not in EXAMPLES:
        raise KeyError(f"no bundled recording {name!r}; choose one of {', '.join(EXAMPLES)}")
    return DATA_DIR / EXAMPLES[name]
