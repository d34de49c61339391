"""Speakers onto a transcript: each word and segment gets the speaker whose turns overlap it most, and a
segment that spans a change of speaker is split there when it has word times."""

from __future__ import annotations

from typing import Sequence

from aero_agent.speakers.base import SpeakerTurn
from aero_agent.transcript import Segment, Transcript, Word


def speaker_at(start: float, end: float, turns: Sequence[SpeakerTurn]) -> str | None:
    """The speaker who talks longest within ``[start, end]``; the nearest turn's speaker when none overlaps;
    None when there are no turns."""
    if not turns:
        return None
    talk: dict[str, float] = {}
    for turn in turns:
        overlap = min(end, turn.end) - max(start, turn.start)
        if overlap > 0:
            talk[turn.speaker] = talk.get(turn.speaker, 0.0) + overlap
    if talk:
        return max(talk, key=lambda s: talk[s])
    middle = (start + end) / 2
    return min(turns, key=lambda t: max(t.start - middle, middle - t.end)).speaker


def _split_by_words(segment: Segment, turns: Sequence[SpeakerTurn]) -> list[Segment]:
    words = [w for w in segment.words or [] if w.word.strip()]
    owners = [speaker_at(w.start, w.end, turns) for w in words]
    runs: list[tuple[str | None, list[Word]]] = []
    for word, owner in zip(words, owners):
        if runs and runs[-1][0] == owner:
            runs[-1][1].append(word)
        else:
            runs.append((owner, [word]))
    if len(runs) <= 1:
        return [segment.model_copy(update={"speaker": speaker_at(segment.start, segment.end, turns)})]
    pieces = []
    for number, (owner, run) in enumerate(runs):
        start = segment.start if number == 0 else run[0].start
        end = segment.end if number == len(runs) - 1 else run[-1].end
        pieces.append(Segment(start=start, end=end, text="".join(w.word for w in run).strip(), speaker=owner,
                              words=run))
    return pieces


def assign_speakers(transcript: Transcript, turns: Sequence[SpeakerTurn]) -> Transcript:
    """A copy of ``transcript`` whose segments carry speakers (split at changes of speaker when their word
    times show where); with no turns every label is cleared, since no speaker was heard."""
    segments: list[Segment] = []
    for segment in transcript.segments:
        if segment.words:
            segments += _split_by_words(segment, turns)
        else:
            segments.append(segment.model_copy(update={"speaker": speaker_at(segment.start, segment.end, turns)}))
    return transcript.model_copy(update={"segments": segments})
