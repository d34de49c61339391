"""Transcript data: timed segments (with speakers and word times when known), non-speech events, and their
text, SRT, WebVTT, JSON and RTTM renderings."""

from __future__ import annotations

from typing import Literal, NamedTuple

from pydantic import BaseModel, Field, PrivateAttr

from aero_agent.errors import InvalidArgumentError


class Word(BaseModel):
    """One word with its time in the recording (from the decoder's cross-attention alignment)."""

    start: float
    end: float
    word: str = Field(description="The word as decoded, with its leading space or punctuation.")
    probability: float = Field(default=1.0, description="The decoder's probability of the word's tokens.")


class Segment(BaseModel):
    """One stretch of speech with its start and end time in seconds."""

    start: float = Field(description="Start time in seconds from the beginning of the recording.")
    end: float = Field(description="End time in seconds from the beginning of the recording.")
    text: str = Field(description="What was said in this stretch.")
    speaker: str | None = Field(default=None, description="Speaker label (SPEAKER_00, ...) when diarized.")
    words: list[Word] | None = Field(default=None, description="Word times, when the engine aligned them.")
    background: Literal["music", "singing"] | None = Field(default=None, description=(
        "Music or singing heard under most of this speech, when the sound-event pass found it."))

    @property
    def labelled_text(self) -> str:
        """The text, prefixed with ``SPEAKER_xx:`` when the segment has a speaker."""
        return f"{self.speaker}: {self.text.strip()}" if self.speaker else self.text.strip()


EventKind = Literal["music", "singing", "sound"]
EVENT_KINDS: tuple[str, ...] = ("music", "singing", "sound")


def check_event_kind(kind: object) -> str:
    """``kind`` if it names an event kind (or the ``non-speech`` of sessions stored before events were typed);
    raises otherwise."""
    if kind not in (*EVENT_KINDS, "non-speech"):
        raise InvalidArgumentError(f"unknown event kind {kind!r}; use one of {', '.join(EVENT_KINDS)}")
    return str(kind)


class AudioEvent(BaseModel):
    """A timed stretch of sound: ``music`` or ``singing`` (which may overlap speech), or other ``sound`` (neither,
    and no speech); ``non-speech`` in transcripts made before sound events were typed. Never rendered as words."""

    start: float
    end: float
    kind: Literal["music", "singing", "sound", "non-speech"] = "sound"
    confidence: float | None = Field(default=None, description="The detector's mean probability over the event.")

    @property
    def caption(self) -> str:
        """The event as captions mark it: ``[music]``, ``[singing]``, ``[sound]``."""
        return f"[{self.kind}]"


class SpeakerSummary(BaseModel):
    """How much one speaker talks in a transcript, and when."""

    speaker: str
    talk_time_s: float
    share: float = Field(description="Fraction of all attributed talk time, 0 to 1.")
    segments: int
    first_s: float
    last_s: float
    voice_id: str | None = Field(default=None, description="The library voice's id when the speaker is recognised.")
    label: str | None = Field(default=None, description="The anonymous SPEAKER_xx label of a recognised speaker.")
    confidence: float | None = Field(default=None, description="How sure the recognition is (1.0 when named).")


def clock(seconds: float) -> str:
    """``mm:ss`` (``h:mm:ss`` from an hour on) for a time in seconds: how answers and tools quote times."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _timecode(seconds: float, decimal: str) -> str:
    millis = max(0, int(round(seconds * 1000)))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


class TranscriptHead(NamedTuple):
    """The first part of a transcript that fits a length limit (see :meth:`Transcript.head`)."""

    text: str
    """The rendered text of ``shown``."""
    next_start_s: float | None
    """The ``start_s`` to ask for the rest from; None when nothing was cut."""
    shown: Transcript
    """The transcript that was rendered: the whole one, or its leading segments."""


class Transcript(BaseModel):
    """An ordered list of segments covering a recording."""

    segments: list[Segment] = Field(default_factory=list)
    events: list[AudioEvent] = Field(default_factory=list, description=(
        "Music, singing and other sound, with times (music and singing may overlap speech)."))
    duration_s: float = 0.0
    language: str = Field(default="en", description="The spoken language's code (detected or given).")
    language_probability: float | None = Field(default=None, description=(
        "The detector's probability of ``language``; None when the language was given or the model is English-only."))
    task: Literal["transcribe", "translate"] = Field(default="transcribe", description=(
        "``translate`` when the text is an English translation of the speech."))
    complete: bool = Field(default=True, description="False while the session is still encoding or live.")
    diarized: bool = Field(default=False, description=(
        "True once speakers were looked for: every segment then has a speaker (none when no speech was heard)."))
    partial: list[Segment] = Field(default_factory=list, description=(
        "A live session's tail that may still change (not in ``segments``, not searched); empty otherwise."))
    _voices: dict[str, tuple[str, str, float]] = PrivateAttr(default_factory=dict)
    """Recognised speakers: shown name -> (SPEAKER_xx label, voice id, confidence) (set by aero_agent.voices)."""

    @property
    def text(self) -> str:
        """The whole transcript as one string."""
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())

    def between(self, start_s: float | None = None, end_s: float | None = None) -> "Transcript":
        """Segments that overlap ``[start_s, end_s]``; raises on a range outside the audio."""
        lo = 0.0 if start_s is None else float(start_s)
        hi = self.duration_s if end_s is None else float(end_s)
        if lo < 0 or hi < lo or lo > self.duration_s + 1e-6:
            raise InvalidArgumentError(
                f"time range {lo:g}-{hi:g} s is outside the audio (0-{self.duration_s:.2f} s)"
            )
        kept = [s for s in self.segments if s.end > lo and s.start < hi]
        events = [e for e in self.events if e.end > lo and e.start < hi]
        return self.model_copy(update={"segments": kept, "events": events})

    def of_speaker(self, speaker: str | None) -> "Transcript":
        """Only the segments of ``speaker`` (all of them for None); raises for a label the transcript lacks."""
        if speaker is None:
            return self
        known = {s.speaker for s in self.segments if s.speaker}
        if speaker not in known:
            have = ", ".join(sorted(known)) or ("none: no speech was heard" if self.diarized
                                                else "none: the session was not diarized")
            raise InvalidArgumentError(f"unknown speaker {speaker!r}; speakers in this recording: {have}")
        return self.model_copy(update={"segments": [s for s in self.segments if s.speaker == speaker]})

    @property
    def has_speakers(self) -> bool:
        return any(s.speaker for s in self.segments)

    def speakers(self) -> list[SpeakerSummary]:
        """Each speaker's talk time, share, segment count and first and last time, most talkative first."""
        spans: dict[str, list[Segment]] = {}
        for seg in self.segments:
            if seg.speaker:
                spans.setdefault(seg.speaker, []).append(seg)
        total = sum(max(0.0, s.end - s.start) for segs in spans.values() for s in segs) or 1.0
        out = []
        for speaker, segs in spans.items():
            talk = sum(max(0.0, s.end - s.start) for s in segs)
            label, voice_id, confidence = self._voices.get(speaker, (None, None, None))
            out.append(SpeakerSummary(speaker=speaker, talk_time_s=round(talk, 2), share=round(talk / total, 4),
                                      segments=len(segs), first_s=min(s.start for s in segs),
                                      last_s=max(s.end for s in segs), voice_id=voice_id, label=label,
                                      confidence=confidence))
        return sorted(out, key=lambda x: (-x.talk_time_s, x.speaker))

    def cues(self, events: bool = False) -> list[Segment | AudioEvent]:
        """The segments, and with ``events`` the sound events among them, in time order (what captions show)."""
        if not events:
            return list(self.segments)
        return sorted([*self.segments, *self.events], key=lambda c: (c.start, isinstance(c, Segment)))

    def to_srt(self, events: bool = False) -> str:
        """SubRip subtitles (``SPEAKER_xx:`` before the text when diarized; ``[music]`` cues with ``events``)."""
        blocks = [
            f"{i}\n{_timecode(c.start, ',')} --> {_timecode(c.end, ',')}\n"
            f"{c.labelled_text if isinstance(c, Segment) else c.caption}\n"
            for i, c in enumerate(self.cues(events), 1)
        ]
        return "\n".join(blocks)

    def to_vtt(self, events: bool = False) -> str:
        """WebVTT subtitles (a ``<v SPEAKER_xx>`` voice tag when diarized; ``[music]`` cues with ``events``)."""
        cues = [f"{_timecode(c.start, '.')} --> {_timecode(c.end, '.')}\n"
                + (f"{f'<v {c.speaker}>' if c.speaker else ''}{c.text.strip()}\n" if isinstance(c, Segment)
                   else f"{c.caption}\n") for c in self.cues(events)]
        return "WEBVTT\n\n" + "\n".join(cues)

    def to_json(self) -> str:
        """JSON with segments (speakers and word times when known), non-speech events, duration and language."""
        return self.model_dump_json(indent=2)

    def speaker_turns(self) -> list[Segment]:
        """Runs of consecutive segments of one speaker joined into one segment each (start of the first, end of
        the last, texts joined; word times dropped); the segments as they are when not diarized."""
        turns: list[Segment] = []
        for seg in self.segments:
            if not seg.text.strip():
                continue
            if turns and self.has_speakers and turns[-1].speaker == seg.speaker:
                last = turns[-1]
                turns[-1] = last.model_copy(update={"end": seg.end, "text": f"{last.text} {seg.text.strip()}"})
            else:
                turns.append(seg.model_copy(update={"text": seg.text.strip(), "words": None}))
        return turns

    def speaker_lines(self, events: bool = False) -> str:
        """One ``SPEAKER_xx: text`` line per run of segments of one speaker (the plain text when not diarized);
        with ``events``, a ``[music]``-style line for each sound event, in time order among them."""
        if events and self.events:
            parts = self.model_copy(update={"events": []})
            lines, run = [], []
            for cue in self.cues(events=True):
                if isinstance(cue, Segment):
                    run.append(cue)
                    continue
                if run:
                    lines.append(parts.model_copy(update={"segments": run}).speaker_lines())
                    run = []
                lines.append(f"{cue.caption} {clock(cue.start)}-{clock(cue.end)}")
            if run:
                lines.append(parts.model_copy(update={"segments": run}).speaker_lines())
            return "\n".join(line for line in lines if line)
        if not self.has_speakers:
            return self.text
        return "\n".join(turn.labelled_text for turn in self.speaker_turns())

    def to_rttm(self, file_id: str = "audio") -> str:
        """NIST RTTM speaker turns (one ``SPEAKER`` line per diarized segment; empty when diarized and no
        speech was heard)."""
        if not self.has_speakers:
            if self.diarized:
                return ""
            raise InvalidArgumentError("this transcript has no speaker labels; diarize it first (speakers=True)")
        # RTTM fields are split on whitespace: a name of several words ("Alice Smith") becomes one field
        lines = [f"SPEAKER {'_'.join(file_id.split())} 1 {s.start:.3f} {max(0.0, s.end - s.start):.3f} <NA> <NA> "
                 f"{'_'.join(s.speaker.split())} <NA> <NA>" for s in self.segments if s.speaker]
        return "\n".join(lines) + "\n"

    def head(self, max_chars: int, fmt: str = "text", events: bool = False) -> TranscriptHead:
        """Render in ``fmt`` and, when that is longer than ``max_chars``, cut at a segment boundary.

        The cut keeps the longest run of leading whole segments whose rendering (measured exactly, headers
        and numbering included) fits in ``max_chars``, and always at least one segment, so a single
        over-long segment comes back whole. ``next_start_s`` is the end of the last segment shown: passed as
        ``start_s`` to :meth:`between` (or a tool), it gives the segments that were left out. ``events`` as in
        :meth:`render`; a cut keeps the events that start before the last segment shown ends.
        """
        rendered = self.render(fmt, events)
        if len(rendered) <= max_chars or len(self.segments) <= 1:
            return TranscriptHead(rendered, None, self)
        lo, hi = 1, len(self.segments) - 1  # keep lo segments; find the largest count that fits
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if len(self._first(mid).render(fmt, events)) <= max_chars:
                lo = mid
            else:
                hi = mid - 1
        shown = self._first(lo)
        return TranscriptHead(shown.render(fmt, events), shown.segments[-1].end, shown)

    def _first(self, count: int) -> Transcript:
        end = self.segments[count - 1].end
        return self.model_copy(update={"segments": self.segments[:count],
                                       "events": [e for e in self.events if e.start < end]})

    def render(self, fmt: str, events: bool = False) -> str:
        """Render as ``text``/``txt`` (a ``SPEAKER_xx:`` line per speaker's turn when diarized), ``srt``,
        ``vtt``, ``json`` or ``rttm``; ``events`` adds ``[music]``-style lines to text, SRT and WebVTT (JSON
        always has its ``events``, RTTM never)."""
        renderers = {"text": self.speaker_lines, "txt": self.speaker_lines, "srt": self.to_srt,
                     "vtt": self.to_vtt, "json": self.to_json, "rttm": self.to_rttm}
        if fmt not in renderers:
            raise InvalidArgumentError(f"unknown transcript format {fmt!r}; use one of {sorted(renderers)}")
        if events and fmt in ("text", "txt", "srt", "vtt"):
            return renderers[fmt](events=True)  # type: ignore[operator]
        return renderers[fmt]()

    def events_of(self, kind: str | None = None, start_s: float | None = None,
                  end_s: float | None = None) -> list[AudioEvent]:
        """Events of one ``kind`` (every kind for None) that overlap ``[start_s, end_s]``; raises on an unknown
        kind or a range outside the audio."""
        if kind is not None:
            check_event_kind(kind)
        return [e for e in self.between(start_s, end_s).events if kind is None or e.kind == kind]
