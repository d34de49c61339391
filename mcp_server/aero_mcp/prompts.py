"""Texts of the server's prompts for common jobs on a recording."""

from __future__ import annotations

EMBED_MAX_CHARS = 60_000
"""A ready session's transcript is embedded in the prompt when it is at most this long."""

_TOOLS = ("Use the aero-mcp tools on that session: transcribe_audio for the transcript (it cites times), "
          "search_audio to find where something is said, ask_audio for questions. Quote times as [mm:ss].")

MEETING_MINUTES = (
    "Write minutes of this recorded meeting with these sections: Attendees (as far as the recording tells), "
    "Agenda / topics with times, Decisions, Action items (owner, task, due date if said, time), Open questions. "
    "Keep each point short and grounded in what was said; write 'not stated' rather than guessing. " + _TOOLS
)

ACTION_ITEMS = (
    "List every action item in this recording as a table: owner, task, due date (or 'not stated'), and the time "
    "[mm:ss] it was said, with a short quote. Include only commitments actually made. " + _TOOLS
)


def summary(focus: str = "") -> str:
    focus = focus.strip()
    about = f" concentrating on: {focus}." if focus else "."
    return ("Summarize this recording in a few short paragraphs" + about + " Start with one sentence on what it "
            "is, then the main points in order with their times, then anything notable left open. " + _TOOLS)


def find_moments(topic: str) -> str:
    return (f"Find every moment in this recording where this comes up: {topic.strip() or '(no topic given)'}. "
            "For each, give the time range, a short quote and one line of context. Use search_audio first, then "
            "transcribe_audio with start_s/end_s around each hit to read the context. " + _TOOLS)


def subtitles(fmt: str = "srt") -> str:
    fmt = fmt.strip().lower() if fmt.strip().lower() in ("srt", "vtt") else "srt"
    return (f"Produce {fmt.upper()} subtitles for this recording: call transcribe_audio with format='{fmt}' (and "
            "start_s for the next part when the result says it was cut), then return the subtitles unchanged in "
            f"one code block. The resource audio://sessions/<session_id>/transcript.{fmt} holds the same text.")
