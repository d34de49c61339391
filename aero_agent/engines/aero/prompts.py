"""Prompts the Aero engine uses: transcription (the reference one), description, and merging windows."""

from __future__ import annotations

TRANSCRIBE_PROMPT = "Please transcribe the audio"

VOCABULARY_TEMPLATE = "{prompt}. These names and terms may be spoken; write them exactly as spelled here: {terms}"


def transcribe_instruction(prompt: str, terms: list[str] | tuple[str, ...]) -> str:
    """The transcription instruction, with the session's vocabulary when it has one."""
    return VOCABULARY_TEMPLATE.format(prompt=prompt, terms="; ".join(terms)) if terms else prompt

DESCRIBE_PROMPT = (
    "Describe what can be heard in this audio beyond the words: the sounds and background noises, any "
    "music (genre, instruments, tempo, mood), and each speaker's voice, tone and emotion, saying when in "
    "the recording they occur."
)

MERGE_TEMPLATE = (
    "A recording was too long to listen to at once, so the request below was answered separately for "
    "consecutive, slightly overlapping parts of it.\n\n{parts}\n\nRequest: {prompt}\n\n"
    "Using only these partial answers, reply to the request for the whole recording in one answer. "
    "Merge what the parts repeat, keep times where they are given, and do not mention the parts."
)

PART_TEMPLATE = "Part {number} ({start} to {end}):\n{answer}"


def clock(seconds: float) -> str:
    """``H:MM:SS`` or ``M:SS`` for a time in seconds."""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def merge_prompt(prompt: str, parts: list[tuple[float, float, str]]) -> str:
    """The text-only prompt that merges per-window answers ``(start_s, end_s, answer)`` into one."""
    rendered = "\n\n".join(PART_TEMPLATE.format(number=i + 1, start=clock(s), end=clock(e), answer=a.strip())
                           for i, (s, e, a) in enumerate(parts))
    return MERGE_TEMPLATE.format(parts=rendered, prompt=prompt)
