"""Real recordings bundled with aero-agent (see ATTRIBUTION.md for their licences)."""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
EXAMPLES = {
    "meeting": "ami_ES2003a_ES2003b_meeting.flac",
    "jfk": "jfk_inaugural_1961.wav",
    "sonnet": "librivox_shakespeare_sonnet_1.wav",
    "ami-short": "ami_ES2011a_headset0_40s_46s.wav",
}
EXAMPLE_TEXT = {
    "jfk": "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.",
    "ami-short": "I'm Abigail Claflin, you can call me Abbie",
}
EXAMPLE_RTTM = {"meeting": "ami_ES2003a_ES2003b_meeting.rttm"}
"""Reference speaker turns (AMI "only words" annotation, NIST RTTM) of the bundled recordings that have them."""


def example_path(name: str = "jfk") -> Path:
    """Path of a bundled recording: ``meeting``, ``jfk``, ``sonnet`` or ``ami-short``."""
    if name not in EXAMPLES:
        raise KeyError(f"no bundled recording {name!r}; choose one of {', '.join(EXAMPLES)}")
    return DATA_DIR / EXAMPLES[name]


def example_rttm(name: str) -> Path:
    """Path of a bundled recording's reference RTTM (who spoke when, by hand); KeyError when it has none."""
    if name not in EXAMPLE_RTTM:
        raise KeyError(f"bundled recording {name!r} has no reference RTTM; these do: {', '.join(EXAMPLE_RTTM)}")
    return DATA_DIR / EXAMPLE_RTTM[name]
