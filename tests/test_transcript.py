"""Transcript helpers shared by the CLI, the LangChain tools and the MCP server: cutting long transcripts at a
segment boundary (Transcript.head), mm:ss clock times, and the next step after an error."""

from __future__ import annotations

import pytest

from aero_agent import errors as E
from aero_agent.transcript import Segment, Transcript, clock

FORMATS = ["text", "srt", "vtt", "json"]


def long_transcript(count: int = 300) -> Transcript:
    return Transcript(segments=[Segment(start=i * 2.0, end=i * 2.0 + 1.5, text=f"sentence number {i} here")
                                for i in range(count)], duration_s=count * 2.0)


@pytest.mark.parametrize("fmt", FORMATS)
def test_head_keeps_the_longest_run_of_whole_segments_that_fits(fmt: str) -> None:
    transcript = long_transcript()
    text, next_start, shown = transcript.head(1_000, fmt)
    count = len(shown.segments)
    assert len(text) <= 1_000 and 1 <= count < len(transcript.segments)
    assert shown.segments == transcript.segments[:count]
    assert text == shown.render(fmt)  # exactly the rendering of the segments shown, headers included
    one_more = transcript.model_copy(update={"segments": transcript.segments[:count + 1]})
    assert len(one_more.render(fmt)) > 1_000  # the largest prefix that fits
    assert next_start == shown.segments[-1].end
    rest = transcript.between(next_start)  # continuing from next_start gives exactly what was left out
    assert shown.segments + rest.segments == transcript.segments


@pytest.mark.parametrize("fmt", FORMATS)
def test_head_of_a_transcript_that_fits_is_the_whole_rendering(fmt: str) -> None:
    transcript = long_transcript(5)
    head = transcript.head(10**7, fmt)
    assert head.text == transcript.render(fmt) and head.next_start_s is None and head.shown is transcript
    exact = transcript.head(len(transcript.render(fmt)), fmt)  # the limit is inclusive
    assert exact.next_start_s is None and exact.text == transcript.render(fmt)


def test_head_always_shows_one_segment_and_handles_empty_transcripts() -> None:
    transcript = Transcript(segments=[Segment(start=0, end=5, text="y" * 500), Segment(start=5, end=6, text="z")],
                            duration_s=6)
    text, next_start, shown = transcript.head(100, "text")
    assert text == "y" * 500 and next_start == 5 and len(shown.segments) == 1
    single = Transcript(segments=transcript.segments[:1], duration_s=5)
    assert single.head(10, "srt") == (single.render("srt"), None, single)
    empty = Transcript(duration_s=3)
    assert empty.head(200, "vtt") == ("WEBVTT\n\n", None, empty)


def test_head_keeps_the_partial_flag_and_refuses_unknown_formats() -> None:
    partial = long_transcript().model_copy(update={"complete": False})
    assert partial.head(500, "json").shown.complete is False
    with pytest.raises(E.InvalidArgumentError, match="unknown transcript format"):
        partial.head(500, "docx")


@pytest.mark.parametrize(("seconds", "expected"), [
    (0, "00:00"), (7.9, "00:07"), (61, "01:01"), (599.99, "09:59"), (3599, "59:59"), (3600, "1:00:00"),
    (4 * 3600 + 5 * 60 + 6.5, "4:05:06"), (-3, "00:00"),
])
def test_clock(seconds: float, expected: str) -> None:
    assert clock(seconds) == expected


def test_rttm_keeps_a_name_of_several_words_in_one_field():
    """Catches: a voice named "Alice Smith" written as two RTTM fields, which every RTTM reader misparses."""
    from aero_agent.transcript import Segment, Transcript

    rttm = Transcript(segments=[Segment(start=0.5, end=2.0, text="hello", speaker="Alice Smith")],
                      diarized=True).to_rttm("team call")
    fields = rttm.split()
    assert len(fields) == 10 and fields[1] == "team_call" and fields[7] == "Alice_Smith"
