"""Tools that read one session: its transcript, search over it, questions and extraction."""

# No ``from __future__ import annotations``: the SDK reads these signatures at registration time.

import json
from typing import Annotated, Any, Literal

from mcp.types import CallToolResult
from pydantic import Field

from aero_agent import errors as E
from aero_agent.render import answer_text, events_text, hit_line, span, speakers_text, transcript_excerpt
from aero_agent.retrieval import weak_note
from aero_agent.session import MAX_K
from aero_agent.transcript import EventKind
from aero_mcp.registry import (ADDS_TURN, READ_ONLY, NumSpeakers, Session, SessionId, SpeakersArg, WaitS, result,
                               text_arg, tool)
from aero_mcp.models import AskResult, EventsResult, ExtractResult, SearchResult, SpeakersResult, TranscriptResult
from aero_mcp.tools_vocabulary import VocabularyArg

MAX_SCHEMA_CHARS = 20_000
DEFAULT_TRANSCRIPT_CHARS = 40_000
MAX_TRANSCRIPT_CHARS = 400_000
MAX_HITS = MAX_K  # the core's limit, the same in every skin

Speaker = Annotated[str | None, Field(max_length=64, description="Only what this speaker said (SPEAKER_00...; "
                                                                  "see list_speakers), for a diarized session.")]


@tool("Transcribe audio", READ_ONLY)
async def transcribe_audio(
    call: Session,
    session_id: SessionId,
    start_s: Annotated[float | None, Field(ge=0, description="Start time in seconds.")] = None,
    end_s: Annotated[float | None, Field(ge=0, description="End time in seconds.")] = None,
    format: Annotated[Literal["text", "srt", "vtt", "json", "rttm"], Field(
        description="text (plain; 'SPEAKER_xx:' lines when diarized), srt or vtt (subtitles with times), json "
                    "(segments with word times, speakers and music/singing/sound events), or rttm (speaker turns).")
    ] = "text",
    events: Annotated[bool, Field(description="Mark music, singing and other sound as [music], [singing], [sound] "
                                              "lines in text, srt and vtt.")] = False,
    max_chars: Annotated[int, Field(
        ge=200, le=MAX_TRANSCRIPT_CHARS,
        description="Cut long transcripts at a segment boundary to at most this many characters (a single "
                    "longer segment comes whole); the result says where to continue.")] = DEFAULT_TRANSCRIPT_CHARS,
    speakers: SpeakersArg = False,
    num_speakers: NumSpeakers = None,
    wait_s: WaitS = None,
    vocabulary: VocabularyArg = None,
) -> Annotated[CallToolResult, TranscriptResult]:
    """The timed transcript of a session, whole or between start_s and end_s seconds.

    With vocabulary (names and terms to spell as written), the stretch is decoded again with it first (the
    session keeps the terms for its later decodes).

    While the session is still encoding, returns the part transcribed so far (complete=false). With
    speakers=true a session not yet diarized is diarized first (once; its words are not decoded again).
    """
    if speakers or num_speakers is not None:
        await call.run(call.session.ensure_speakers, True, num_speakers, what="finding the speakers")
    if vocabulary:
        await call.run(call.session.retranscribe, start_s, end_s, vocabulary, what="transcribing again")
    transcript = await call.run(call.session.transcribe, start_s, end_s, what="transcription")
    info = call.info
    live = info.status == "live"
    excerpt = await call.run(transcript_excerpt, transcript, format, max_chars, None if live else info.progress,
                             events, what="rendering the transcript")
    message = " ".join(excerpt.notes)
    found = TranscriptResult(
        session_id=session_id, format=format, text=excerpt.text, segments=excerpt.shown.segments, start_s=start_s,
        end_s=end_s, duration_s=info.duration_s, complete=transcript.complete, progress=round(info.progress, 4),
        language=transcript.language, task=transcript.task,
        truncated=excerpt.next_start_s is not None, next_start_s=excerpt.next_start_s, message=message)
    hi = end_s if end_s is not None else info.duration_s
    header = f"Transcript of session {session_id} {span(start_s or 0.0, hi)}"
    header += " (live: final part so far)" if live else "" if transcript.complete else \
        f" (partial, encoding {info.progress:.0%} done)"
    return result(found, "\n".join([header + ":", excerpt.text] + ([f"\n({message})"] if message else [])))


@tool("List speakers", READ_ONLY)
async def list_speakers(call: Session, session_id: SessionId, wait_s: WaitS = None
                        ) -> Annotated[CallToolResult, SpeakersResult]:
    """Who speaks in a diarized session: each speaker's id, talk time, share of the talk, and first and last
    time, most talkative first. Open the file with speakers=true (or transcribe_audio with speakers=true) first.
    """
    transcript = await call.run(call.session.transcribe, what="reading the transcript")
    summary = transcript.speakers()
    listed = SpeakersResult(session_id=session_id, diarized=transcript.diarized, speakers=summary,
                            complete=transcript.complete, message=speakers_text(summary, transcript.diarized))
    return result(listed, listed.message)


@tool("List sound events", READ_ONLY)
async def list_events(
    call: Session,
    session_id: SessionId,
    kind: Annotated[EventKind | None, Field(
        description="Only events of this kind: music, singing or sound (other non-speech sound).")] = None,
    start_s: Annotated[float | None, Field(ge=0, description="Only events ending after this time (s).")] = None,
    end_s: Annotated[float | None, Field(ge=0, description="Only events starting before this time (s).")] = None,
    wait_s: WaitS = None,
) -> Annotated[CallToolResult, EventsResult]:
    """Music, singing and other sound heard in a session, each with start and end time and confidence; music
    under speech is listed too. Filter by kind and time range."""
    events = await call.run(call.session.events, kind, start_s, end_s, what="reading the events")
    listed = EventsResult(session_id=session_id, kind=kind, events=events,
                          complete=call.info.status == "ready", message=events_text(events, kind))
    return result(listed, listed.message)


@tool("Ask about audio", ADDS_TURN)
async def ask_audio(
    call: Session,
    session_id: SessionId,
    question: text_arg("A question about the recording. Follow-up questions see the earlier turns of this "
                       "session."),
    speaker: Speaker = None,
    wait_s: WaitS = None,
) -> Annotated[CallToolResult, AskResult]:
    """Ask a question about a recording; the answer cites the transcript evidence with times.

    Each question is a turn in the session's conversation, kept across restarts.
    """
    answer = await call.run(call.session.ask, question, speaker=speaker, what="answering")
    asked = AskResult(session_id=session_id, question=question, answer=answer.text, method=answer.method,
                      turn=answer.turn, evidence=answer.evidence, complete=answer.complete,
                      progress=round(call.info.progress, 4), note=" ".join(answer.notes) or None,
                      metadata=answer.metadata)
    return result(asked, answer_text(answer))


@tool("Search audio", READ_ONLY)
async def search_audio(
    call: Session,
    session_id: SessionId,
    query: text_arg("What to look for in what was said, in words or by meaning."),
    k: Annotated[int, Field(ge=1, le=MAX_HITS, description=f"How many hits to return, 1 to {MAX_HITS}.")] = 5,
    speaker: Speaker = None,
    start_s: Annotated[float | None, Field(ge=0, description="Only passages ending after this time (s).")] = None,
    end_s: Annotated[float | None, Field(ge=0, description="Only passages starting before this time (s).")] = None,
    event: Annotated[EventKind | None, Field(description=(
        "Only passages over a sound event of this kind (see list_events), e.g. music: what is said over "
        "music."))] = None,
    wait_s: WaitS = None,
) -> Annotated[CallToolResult, SearchResult]:
    """Find where something is said: transcript passages ranked for the query by hybrid search (keywords fused with
    meaning), best first, with their times."""
    complete = call.info.status == "ready"
    hits = await call.run(call.session.search, query, k, speaker=speaker, start_s=start_s, end_s=end_s,
                          event=event, what="searching")
    progress = call.info.progress
    message = "" if complete else "Live: only the final text so far was searched." if call.info.status == "live" \
        else f"Encoding is {progress:.0%} done: only that part was searched."
    message = " ".join(part for part in (weak_note(hits), message) if part)
    found = SearchResult(session_id=session_id, query=query, hits=hits, complete=complete,
                         progress=round(progress, 4), message=message)
    lines = [hit_line(h) for h in hits] or ["No segment matches the query."]
    return result(found, "\n".join(lines + ([f"({message})"] if message else [])))


@tool("Extract data from audio", ADDS_TURN)
async def extract_from_audio(
    call: Session,
    session_id: SessionId,
    instruction: text_arg("What to extract, e.g. 'the action items with owners'."),
    json_schema: Annotated[dict[str, Any] | None, Field(
        description="JSON Schema (type object or array) the result must validate against. "
                    "Empty: a list of notes.")] = None,
    wait_s: WaitS = None,
) -> Annotated[CallToolResult, ExtractResult]:
    """Extract structured data from a recording, validated against a JSON Schema.

    Needs an engine that can reason about audio (engine 'aero') or a reasoner; the transcript-only Whisper
    engine refuses with the reason, and transcribe_audio / search_audio still work.
    """
    if json_schema is not None and len(json.dumps(json_schema)) > MAX_SCHEMA_CHARS:
        raise E.InvalidArgumentError(f"json_schema is over {MAX_SCHEMA_CHARS} characters; simplify it")
    extraction = await call.run(call.session.extract, json_schema, instruction, what="extraction")
    extracted = ExtractResult(session_id=session_id, data=extraction.data, method=extraction.method,
                              turn=extraction.turn, metadata=extraction.metadata)
    return result(extracted, json.dumps(extraction.data, ensure_ascii=False, indent=2))
