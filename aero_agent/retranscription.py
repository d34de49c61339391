"""Decoding a stretch of a ready session again (with a new vocabulary): the segments it covers are replaced.

The stretch is widened to the segments it touches, so no segment is cut; the new segments keep the speaker of
the old segment they overlap most, so a diarized transcript stays diarized.
"""

from __future__ import annotations

from typing import Any

from aero_agent.audio import AudioClip
from aero_agent.errors import CapabilityError
from aero_agent.transcript import Segment, Transcript, Word

EDGE_S = 0.2
"""Audio kept on each side of the widened stretch, so its first and last words are heard whole."""


def _shifted(segment: Segment, offset: float) -> Segment:
    words = None if segment.words is None else [
        Word(start=round(w.start + offset, 3), end=round(w.end + offset, 3), word=w.word, probability=w.probability)
        for w in segment.words]
    return segment.model_copy(update={"start": round(segment.start + offset, 2), "end": round(segment.end + offset, 2),
                                      "words": words})


def _speaker_of(segment: Segment, old: list[Segment]) -> str | None:
    overlap = {}
    for s in old:
        shared = min(s.end, segment.end) - max(s.start, segment.start)
        if s.speaker and shared > 0:
            overlap[s.speaker] = overlap.get(s.speaker, 0.0) + shared
    return max(overlap, key=overlap.__getitem__) if overlap else None


def retranscribe_range(transcript: Transcript, clip: AudioClip, engine: Any, options: Any,
                       start_s: float | None = None, end_s: float | None = None) -> Transcript:
    """``transcript`` with its segments between ``start_s`` and ``end_s`` (the whole recording by default)
    decoded again from ``clip`` by ``engine`` under ``options`` (a :class:`TranscribeOptions`)."""
    if not hasattr(engine, "transcribe_clips"):
        raise CapabilityError(f"the {engine.name} engine cannot transcribe a stretch again; use engine 'whisper'")
    touched = transcript.between(start_s, end_s).segments
    lo = min([start_s or 0.0, *[s.start for s in touched]])
    hi = max([clip.duration_s if end_s is None else end_s, *[s.end for s in touched]])
    lo, hi = max(0.0, lo - EDGE_S), min(clip.duration_s, hi + EDGE_S)
    fresh = engine.transcribe_clips([clip.slice(lo, hi)], options=options)[0]
    new = [_shifted(s, lo) for s in fresh.segments]
    if transcript.diarized:
        new = [s.model_copy(update={"speaker": _speaker_of(s, touched)}) for s in new]
    kept = [s for s in transcript.segments if not any(s is t for t in touched)]
    segments = sorted(kept + new, key=lambda s: s.start)
    return transcript.model_copy(update={"segments": segments})
