"""What the skins print: one wording for evidence, search hits, status lines, answers and transcript excerpts.

The command line, the LangChain tools and the MCP server all show these to a person or a model; writing them
once keeps the three alike. Next-step hints after an error are the skins' own (they name the skins' tools and
options); this module only joins a message with the hint a skin's table gives for the error's type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from aero_agent.transcript import AudioEvent, Segment, SpeakerSummary, Transcript, clock

if TYPE_CHECKING:
    from aero_agent.results import Answer, SearchHit, SessionInfo

Hint = str | Callable[[BaseException], str]
HintTable = Mapping[type, Hint]
"""Error type -> what to do next (text, or a function of the error); the most specific type wins."""


def span(start: float, end: float) -> str:
    """``[mm:ss-mm:ss]``: how every skin quotes a stretch of the recording."""
    return f"[{clock(start)}-{clock(end)}]"


def segment_line(segment: Segment) -> str:
    """``[mm:ss-mm:ss] SPEAKER_xx: text`` (the label when diarized)."""
    return f"{span(segment.start, segment.end)} {segment.labelled_text}"


def speakers_text(speakers: Sequence[SpeakerSummary], diarized: bool) -> str:
    """One line per speaker (talk time, share, first and last time), most talkative first; or why there are none."""
    if not diarized:
        return "This session was not diarized: open it with speakers=True, or ask for speakers now."
    if not speakers:
        return "No speech was heard, so there are no speakers."
    lines = [f"{len(speakers)} speaker{'s' if len(speakers) != 1 else ''}:"]
    lines += [f"{s.speaker}: {s.talk_time_s:.1f} s ({s.share:.0%}), {s.segments} segment"
              f"{'s' if s.segments != 1 else ''}, first {clock(s.first_s)}, last {clock(s.last_s)}"
              for s in speakers]
    return "\n".join(lines)


def events_text(events: Sequence[AudioEvent], kind: str | None = None) -> str:
    """One ``[mm:ss-mm:ss] [music] (confidence 0.97)`` line per sound event, in time order; or that there is none."""
    if not events:
        return f"No {kind or 'sound'} event was heard in this range." if kind else "No sound event was heard in this range."
    lines = [f"{len(events)} event{'s' if len(events) != 1 else ''}:"]
    lines += [f"{span(e.start, e.end)} {e.caption}" + (f" (confidence {e.confidence:.2f})" if e.confidence else "")
              for e in events]
    return "\n".join(lines)


def who_spoke_when(transcript: Transcript) -> str:
    """A heading with each speaker's share of the talk, then one ``[mm:ss-mm:ss] SPEAKER_xx: text`` line per
    turn (a run of one speaker's segments); or why there are no speakers."""
    speakers = transcript.speakers()
    if not speakers:
        return speakers_text(speakers, transcript.diarized)
    shares = ", ".join(f"{s.speaker} {s.share:.0%}" for s in speakers)
    heading = f"Who spoke when ({len(speakers)} speaker{'s' if len(speakers) != 1 else ''}: {shares}):"
    return "\n".join([heading, *(segment_line(turn) for turn in transcript.speaker_turns())])


def evidence_lines(segments: Sequence[Segment]) -> str:
    """One ``[mm:ss-mm:ss] text`` line per segment."""
    return "\n".join(segment_line(s) for s in segments)


def hit_line(hit: SearchHit) -> str:
    """``rank. [mm:ss-mm:ss] (times, score[, weak]) [recording, session] SPEAKER: text`` (parts shown when
    known; ``weak`` for a hit that is the closest there is but a poor match)."""
    where = f"[{Path(hit.source).name}, session {hit.session_id}] " if hit.session_id and hit.source else ""
    who = f"{hit.speaker}: " if hit.speaker else ""
    return (f"{hit.rank}. {span(hit.start, hit.end)} ({hit.start:.1f}-{hit.end:.1f} s, score {hit.score:.2f}{', weak' if hit.label == 'weak' else ''}) "
            f"{where}{who}{hit.text.strip()}")


def answer_text(answer: Answer) -> str:
    """The answer, then the evidence it rests on (unless the answer is that evidence), then its notes."""
    parts = [answer.text]
    if answer.evidence and answer.method != "transcript-evidence":
        parts.append("Evidence:\n" + evidence_lines(answer.evidence))
    if answer.notes:
        parts.append("\n".join(f"({note})" for note in answer.notes))
    return "\n\n".join(parts)


def status_line(info: SessionInfo) -> str:
    """``<id>: <file>, <duration> s, engine <name> <model>, <state>[, <k> speakers], <n> turns[, tags: ...]``."""
    state = info.status
    if info.status == "encoding":
        state = f"encoding {info.progress:.0%}"
    elif info.interrupted and info.status == "ready":
        state = "ready (a live stream cut off by a stop: its final text is kept)"
    elif info.interrupted:
        state = "failed (interrupted by a stop while encoding)"
    elif info.status == "failed":
        state = f"failed ({info.error})"
    name = Path(info.source).name or info.source
    tags = f", tags: {', '.join(info.tags)}" if info.tags else ""
    who = "" if info.speakers is None else f", {info.speakers} speaker{'s' if info.speakers != 1 else ''}"
    return (f"{info.id}: {name}, {info.duration_s:.1f} s, engine {info.engine} {info.model_id}{language_phrase(info)}, "
            f"{state}{who}, {info.turns} turn{'s' if info.turns != 1 else ''}{tags}")


def language_phrase(info: SessionInfo) -> str:
    """``, language de (detected, 0.97)`` or ``, translated from de into English``; empty for plain English."""
    if info.language in (None, "en") and info.language_probability is None and info.task == "transcribe":
        return ""
    said = info.language or "auto"
    if info.task == "translate":
        return f", translated from {said} into English"
    detected = f" (detected, {info.language_probability:.2f})" if info.language_probability is not None else ""
    return f", language {said}{detected}"


class Excerpt(NamedTuple):
    """A transcript rendered to fit a size, with notes on what is missing from it."""

    text: str
    shown: Transcript
    next_start_s: float | None
    notes: list[str]


def transcript_excerpt(transcript: Transcript, fmt: str, max_chars: int, progress: float | None,
                       events: bool = False) -> Excerpt:
    """``transcript`` in ``fmt``, cut at a segment boundary to ``max_chars``; the notes say whether it was cut
    (and where to read on), whether encoding is still going (``progress``; None for a live session, whose
    tail still being heard is quoted), and whether there is no speech at all; ``events`` adds ``[music]``-style
    lines to text, SRT and WebVTT."""
    text, next_start, shown = transcript.head(max_chars, fmt, events)
    notes = []
    if progress is None:
        tail = " ".join(s.text for s in transcript.partial)
        notes.append("Live: these are the final segments so far." + (f" Still being heard (may change): {tail}"
                                                                      if tail else ""))
    elif not transcript.complete:
        notes.append(f"Encoding is {progress:.0%} done: this is the part transcribed so far; ask again later for "
                     "the rest.")
    if next_start is not None:
        notes.append(f"Cut at {max_chars} characters ({len(shown.segments)} of {len(transcript.segments)} segments): "
                     f"call again with start_s={next_start:g} for the rest.")
    if not shown.segments:
        notes.append("No speech in this range." if transcript.complete else "Nothing transcribed yet.")
    return Excerpt(text, shown, next_start, notes)


def next_step(exc: BaseException, hints: HintTable) -> str:
    """The hint for the most specific of ``exc``'s types in ``hints``; ``""`` when none is there."""
    for kind in type(exc).__mro__:
        hint = hints.get(kind)
        if hint is not None:
            return hint(exc) if callable(hint) else hint
    return ""


def with_next_step(exc: BaseException, hints: HintTable) -> str:
    """``exc``'s message followed by its hint from ``hints``, as one or two sentences."""
    message = str(exc).rstrip()
    step = next_step(exc, hints)
    if not step:
        return message
    return f"{message}{'' if message.endswith(('.', '!', '?')) else '.'} {step}"


def input_hints(roots: Sequence[str | Path] = ()) -> dict[type, Hint]:
    """Hints for bad input files that fit every skin (they name no tool or option); a skin's own table
    starts from these. ``roots`` are the folders files may be opened from (the first resolves relative paths)."""
    from aero_agent import errors as E

    shown = [str(r) for r in roots]
    where = (f"; relative paths are taken from {shown[0]} and only these folders are readable: {', '.join(shown)}."
             if shown else ".")
    return {
        E.PathNotAllowedError: "Only files inside the allowed folders can be opened; move the recording into one "
                               "of them.",
        E.AudioNotFoundError: "Check the path" + where,
        E.NotAFileError: "Give the path of one audio file" + (f"; relative paths are taken from {shown[0]}."
                                                              if shown else "."),
        E.AudioTooLongError: "Split or trim the recording.",
        E.AudioTooLargeError: "Split or trim the recording.",
        E.AudioError: "The file cannot be used as audio; check that it is a complete, playable recording (WAV, "
                      "FLAC, MP3, M4A, OGG, ...).",
    }


def live_update_text(final: Sequence[Segment], partial_text: str, received_s: float, final_count: int,
                     behind_s: float | None = None) -> str:
    """What a skin shows after a live chunk: new final lines with times, the partial tail, where the stream is."""
    lines = [f"[{s.start:.2f}-{s.end:.2f}] {s.text}" for s in final]
    if partial_text:
        lines.append(f"(partial, may change) {partial_text}")
    status = f"{received_s:.1f} s received, {final_count} final segment(s)."
    if behind_s:
        status += f" Decoding is {behind_s:.1f} s behind: send audio no faster than real time."
    return "\n".join(lines + [status])
