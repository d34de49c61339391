"""The MCP server: tools, resources and prompts over aero-agent audio sessions.

Every tool is a thin mapping onto :class:`aero_agent.SessionStore` / :class:`aero_agent.AudioSession`;
see :mod:`aero_mcp.backend` for the worker threads, time limits and error messages around them.
"""

# No ``from __future__ import annotations``: the SDK reads these signatures at registration time.

import contextlib
import inspect
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer, UserMessage
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.types import CallToolResult, EmbeddedResource, TextContent, TextResourceContents, ToolAnnotations
from pydantic import Field

from aero_agent import errors as E
from aero_agent.paths import resolve_allowed
from aero_agent.session import MAX_QUESTION_CHARS, SessionInfo
from aero_agent.transcript import clock
from aero_mcp import prompts as P
from aero_mcp.backend import Backend, UserError, explain, is_expected
from aero_mcp.config import ServerConfig
from aero_mcp.models import (
    AskResult,
    CloseResult,
    ExtractResult,
    OpenAudioResult,
    SearchResult,
    SessionList,
    SessionStatus,
    TranscriptResult,
)

log = logging.getLogger("aero_mcp")

MAX_PATH_CHARS = 4096
MAX_SCHEMA_CHARS = 20_000
DEFAULT_TRANSCRIPT_CHARS = 40_000
MAX_TRANSCRIPT_CHARS = 400_000
MAX_HITS = 50

# ----- argument types (the JSON Schema the model sees) ---------------------------------------------
SessionId = Annotated[str, Field(min_length=1, max_length=128,
                                 description="The session id returned by open_audio or list_audio_sessions.")]
WaitS = Annotated[float | None, Field(
    ge=0,
    description="Seconds to wait for a session that is still encoding before answering (capped at about 50). "
                "Leave empty not to wait: the part encoded so far is used.")]

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
ADDS_TURN = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False,
                            open_world_hint=False)
OPENS = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
DELETES = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)


def _instructions(config: ServerConfig) -> str:
    folders = ", ".join(str(d) for d in config.allow_dirs)
    return (
        "aero-mcp gives you ears: open an audio recording once with open_audio (a file path inside the allowed "
        f"folders: {folders}), then transcribe, ask about, search and extract from it over many turns using the "
        "session_id it returns. Long recordings encode in the background: open_audio returns at once with status "
        f"'encoding'; call session_status with wait_s (up to {config.max_wait_s:g} s) until it is 'ready'. "
        "transcribe_audio, search_audio and ask_audio already work on the part encoded so far and say how far "
        "encoding is. Sessions persist across restarts: list_audio_sessions shows them. Transcripts are also "
        "resources: audio://sessions/{id}/transcript (and .srt, .vtt, .json)."
    )


def _result(model: Any, text: str) -> CallToolResult:
    """Structured content (the model) plus a readable text block."""
    return CallToolResult(content=[TextContent(type="text", text=text)],
                          structured_content=model.model_dump(mode="json"))


def _status_text(status: SessionStatus) -> str:
    name = Path(status.source).name or status.source
    return f"Session {status.session_id} ({name}, {status.duration_s:.1f} s, {status.engine}): {status.message}"


def create_server(config: ServerConfig | None = None, *, backend: Backend | None = None, engine: Any = None,
                  reasoner: Any = None) -> MCPServer:
    """Build the aero-mcp server.

    Give ``engine`` (an already loaded aero-agent engine) to open the store at once, as tests do; otherwise the
    engine named in ``config`` loads in a background thread when the server starts.
    """
    config = config or ServerConfig()
    backend = backend or Backend(config, engine=engine, reasoner=reasoner)
    roots = config.allow_dirs

    @asynccontextmanager
    async def lifespan(_server: MCPServer) -> AsyncIterator[dict[str, Any]]:
        backend.start()
        yield {"backend": backend}

    from aero_mcp import __version__

    server = MCPServer("aero-mcp", title="aero-mcp: audio sessions for agents", version=__version__,
                       instructions=_instructions(config), lifespan=lifespan)
    server.backend = backend  # type: ignore[attr-defined]  # for the CLI and tests

    @contextlib.contextmanager
    def errors(op: str) -> Iterator[None]:
        try:
            yield
        except ToolError:
            raise
        except Exception as exc:
            if is_expected(exc):
                log.debug("%s refused: %s", op, exc)
            else:
                log.exception("%s failed unexpectedly", op)
            raise ToolError(explain(exc, roots)) from exc

    def progress_sink(ctx: Context | None):
        async def report(info: SessionInfo) -> None:
            if ctx is None:
                return
            try:
                await ctx.report_progress(round(info.progress * 100, 1), 100,
                                          f"encoding {info.windows_done}/{info.windows_total} windows")
            except Exception as exc:  # noqa: BLE001 - progress is best effort
                log.debug("could not send progress: %s", exc)
        return report

    async def prepare(session_id: str, wait_s: float | None, ctx: Context | None):
        """The call's deadline and the session, after waiting for its encoding when the caller asked to."""
        deadline = backend.deadline(wait_s)
        store = await backend.store(deadline)
        if wait_s:
            await backend.wait_encoded(session_id, wait_s, progress_sink(ctx), deadline, reserve_s=5.0)
        session = await backend.run(store.get, session_id, deadline=deadline, what="loading the session")
        return deadline, session

    def tool(title: str, annotations: ToolAnnotations):
        """Register a tool with its docstring, dedented, as the description the model reads."""
        def register(fn):
            return server.tool(title=title, annotations=annotations, description=inspect.cleandoc(fn.__doc__ or ""))(fn)
        return register

    # ----- tools ---------------------------------------------------------------------------------------
    @tool("Open an audio recording", OPENS)
    async def open_audio(
        path: Annotated[str, Field(min_length=1, max_length=MAX_PATH_CHARS,
                                   description="Path of an audio or video file inside the allowed folders; "
                                               "relative paths start at the first allowed folder.")],
        wait_s: Annotated[float | None, Field(
            ge=0,
            description="Seconds to wait for encoding to finish (capped at about 50). By default short "
                        "recordings are waited for and long ones return at once with status 'encoding'.")] = None,
        reuse: Annotated[bool, Field(description="Return the existing session when this file is already "
                                                 "open (ready or encoding).")] = True,
        ctx: Context | None = None,
    ) -> Annotated[CallToolResult, OpenAudioResult]:
        """Open a recording: decode it, then encode it once so that later calls are fast.

        Returns a session_id for transcribe_audio, ask_audio, search_audio and extract_from_audio. Bad audio
        is refused at once with the reason. Long recordings keep encoding in the background after this call
        returns (status 'encoding'); session_status reports progress.
        """
        with errors("open_audio"):
            deadline = backend.deadline(wait_s)
            store = await backend.store(deadline)
            real = await backend.run(resolve_allowed, path, roots, deadline=deadline, what="checking the path")
            info = (await backend.run(store.find, real, deadline=deadline, what="looking for an open session")
                    if reuse else None)
            reused = info is not None
            if info is None:
                session = await backend.run(store.open, real, wait=False, deadline=deadline,
                                            what=f"decoding {real.name}")
                info = session.info.model_copy()
                log.info("opened %s as %s (%.1f s)", real, info.id, info.duration_s)
            if wait_s is None:
                wait_s = config.open_wait_s if info.duration_s <= config.short_audio_s else 0.0
            if info.status == "encoding" and wait_s > 0:
                info = await backend.wait_encoded(info.id, wait_s, progress_sink(ctx), deadline, reserve_s=1.0)
            result = OpenAudioResult(**SessionStatus.from_info(info).model_dump(), reused=reused)
            prefix = "Reused the open session. " if reused else ""
            return _result(result, prefix + _status_text(result))

    @tool("Session status", READ_ONLY)
    async def session_status(session_id: SessionId, wait_s: WaitS = None,
                             ctx: Context | None = None) -> Annotated[CallToolResult, SessionStatus]:
        """Status of a session: encoding (with progress), ready, or failed (with the reason).

        Give wait_s to wait up to that many seconds (capped at about 50) for encoding to finish; progress
        notifications are sent meanwhile when the client asked for them.
        """
        with errors("session_status"):
            deadline = backend.deadline(wait_s)
            store = await backend.store(deadline)
            if wait_s:
                info = await backend.wait_encoded(session_id, wait_s, progress_sink(ctx), deadline,
                                                  reserve_s=1.0)
            else:
                info = await backend.run(store.status, session_id, deadline=deadline, what="reading the status")
            status = SessionStatus.from_info(info)
            return _result(status, _status_text(status))

    @tool("Transcribe audio", READ_ONLY)
    async def transcribe_audio(
        session_id: SessionId,
        start_s: Annotated[float | None, Field(ge=0, description="Start time in seconds.")] = None,
        end_s: Annotated[float | None, Field(ge=0, description="End time in seconds.")] = None,
        format: Annotated[Literal["text", "srt", "vtt", "json"], Field(
            description="text (plain), srt or vtt (subtitles with times), or json (segments).")] = "text",
        max_chars: Annotated[int, Field(
            ge=200, le=MAX_TRANSCRIPT_CHARS,
            description="Cut long transcripts at a segment boundary to at most this many characters (a single "
                        "longer segment comes whole); the result says where to continue.")] = DEFAULT_TRANSCRIPT_CHARS,
        wait_s: WaitS = None,
        ctx: Context | None = None,
    ) -> Annotated[CallToolResult, TranscriptResult]:
        """The timed transcript of a session, whole or between start_s and end_s seconds.

        While the session is still encoding, returns the part transcribed so far (complete=false).
        """
        with errors("transcribe_audio"):
            deadline, session = await prepare(session_id, wait_s, ctx)
            transcript = await backend.run(session.transcribe, start_s, end_s, deadline=deadline,
                                           what="transcription")
            info = session.info.model_copy()
            text, next_start, shown = await backend.run(transcript.head, max_chars, format, deadline=deadline,
                                                        what="rendering the transcript")
            notes = []
            if not transcript.complete:
                notes.append(f"Encoding is {info.progress:.0%} done: this is the part transcribed so far; call "
                             "again later (or with wait_s) for the rest.")
            if next_start is not None:
                notes.append(f"Cut at {max_chars} characters: call again with start_s={next_start:g} for the rest.")
            if not shown.segments:
                notes.append("No speech in this range." if transcript.complete else "Nothing transcribed yet.")
            result = TranscriptResult(
                session_id=session_id, format=format, text=text, segments=shown.segments, start_s=start_s,
                end_s=end_s, duration_s=info.duration_s, complete=transcript.complete,
                progress=round(info.progress, 4), truncated=next_start is not None, next_start_s=next_start,
                message=" ".join(notes))
            lo = start_s or 0.0
            hi = end_s if end_s is not None else info.duration_s
            header = f"Transcript of session {session_id} [{clock(lo)}-{clock(hi)}]"
            header += "" if transcript.complete else f" (partial, encoding {info.progress:.0%} done)"
            body = "\n".join([header + ":", text] + ([f"\n({result.message})"] if result.message else []))
            return _result(result, body)

    @tool("Ask about audio", ADDS_TURN)
    async def ask_audio(
        session_id: SessionId,
        question: Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS,
                                       description="A question about the recording. Follow-up questions see "
                                                   "the earlier turns of this session.")],
        wait_s: WaitS = None,
        ctx: Context | None = None,
    ) -> Annotated[CallToolResult, AskResult]:
        """Ask a question about a recording; the answer cites the transcript evidence with times.

        Each question is a turn in the session's conversation, kept across restarts.
        """
        with errors("ask_audio"):
            deadline, session = await prepare(session_id, wait_s, ctx)
            answer = await backend.run(session.ask, question, deadline=deadline, what="answering")
            meta = dict(answer.metadata)
            partial = bool(meta.get("partial"))
            note = " ".join(str(n) for n in (meta.get("note"), meta.get("note_partial")) if n) or None
            result = AskResult(session_id=session_id, question=question, answer=answer.text, method=answer.method,
                               turn=answer.turn, evidence=answer.evidence, complete=not partial,
                               progress=round(session.info.progress, 4), note=note, metadata=meta)
            lines = [answer.text]
            if answer.evidence and answer.method != "transcript-evidence":
                lines.append("Evidence: " + "; ".join(f"[{clock(s.start)}-{clock(s.end)}] {s.text.strip()}"
                                                      for s in answer.evidence))
            if note:
                lines.append(f"({note})")
            return _result(result, "\n".join(lines))

    @tool("Search audio", READ_ONLY)
    async def search_audio(
        session_id: SessionId,
        query: Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS,
                                    description="Words to look for in what was said.")],
        k: Annotated[int, Field(ge=1, le=MAX_HITS, description="How many hits to return.")] = 5,
        wait_s: WaitS = None,
        ctx: Context | None = None,
    ) -> Annotated[CallToolResult, SearchResult]:
        """Find where something is said: transcript segments ranked for the query, with their times."""
        with errors("search_audio"):
            deadline, session = await prepare(session_id, wait_s, ctx)
            complete = session.info.status == "ready"
            hits = await backend.run(session.search, query, k, deadline=deadline, what="searching")
            message = "" if complete else (f"Encoding is {session.info.progress:.0%} done: only that part was "
                                           "searched.")
            result = SearchResult(session_id=session_id, query=query, hits=hits, complete=complete,
                                  progress=round(session.info.progress, 4), message=message)
            lines = [f"{h.rank}. [{clock(h.start)}-{clock(h.end)}] {h.text.strip()} (score {h.score:.2f})"
                     for h in hits] or ["No segment matches the query."]
            if message:
                lines.append(f"({message})")
            return _result(result, "\n".join(lines))

    @tool("Extract data from audio", ADDS_TURN)
    async def extract_from_audio(
        session_id: SessionId,
        instruction: Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS,
                                          description="What to extract, e.g. 'the action items with owners'.")],
        json_schema: Annotated[dict[str, Any] | None, Field(
            description="JSON Schema (type object or array) the result must validate against. "
                                      "Empty: a list of notes.")] = None,
        wait_s: WaitS = None,
        ctx: Context | None = None,
    ) -> Annotated[CallToolResult, ExtractResult]:
        """Extract structured data from a recording, validated against a JSON Schema.

        Needs an engine that can reason about audio (engine 'aero') or a reasoner; the transcript-only Whisper
        engine refuses with the reason, and transcribe_audio / search_audio still work.
        """
        with errors("extract_from_audio"):
            if json_schema is not None and len(json.dumps(json_schema)) > MAX_SCHEMA_CHARS:
                raise E.InvalidArgumentError(f"json_schema is over {MAX_SCHEMA_CHARS} characters; simplify it")
            deadline, session = await prepare(session_id, wait_s, ctx)
            extraction = await backend.run(session.extract, json_schema, instruction, deadline=deadline,
                                           what="extraction")
            result = ExtractResult(session_id=session_id, data=extraction.data, method=extraction.method,
                                   turn=extraction.turn, metadata=extraction.metadata)
            return _result(result, json.dumps(extraction.data, ensure_ascii=False, indent=2))

    @tool("List audio sessions", READ_ONLY)
    async def list_audio_sessions() -> Annotated[CallToolResult, SessionList]:
        """All audio sessions in the store (they persist across restarts), newest first, with their status."""
        with errors("list_audio_sessions"):
            result = await _session_list()
            lines = [_status_text(s) for s in result.sessions] or ["No sessions yet: call open_audio with a path."]
            lines.append(result.message)
            return _result(result, "\n".join(lines))

    async def _session_list() -> SessionList:
        store = await backend.store()
        infos = await backend.run(store.list, what="listing sessions")
        present = {i.id for i in infos}
        interrupted = [i for i in store.interrupted if i in present]
        message = f"Allowed folders: {', '.join(str(r) for r in roots)}."
        if interrupted:
            message += (f" {len(interrupted)} session(s) were interrupted while encoding when the server last "
                        f"stopped ({', '.join(interrupted)}): open their files again.")
        return SessionList(sessions=[SessionStatus.from_info(i) for i in infos], interrupted=interrupted,
                           allowed_folders=[str(r) for r in roots], message=message)

    @tool("Close an audio session", DELETES)
    async def close_audio_session(session_id: SessionId) -> Annotated[CallToolResult, CloseResult]:
        """Close a session and delete its stored data (encoding, transcript, history). The audio file is kept."""
        with errors("close_audio_session"):
            store = await backend.store()
            await backend.run(store.close, session_id, what="closing the session")
            result = CloseResult(session_id=session_id, closed=True,
                                 message=f"Session {session_id} is closed and its stored data deleted.")
            return _result(result, result.message)

    # ----- resources -----------------------------------------------------------------------------------
    async def _resource(session_id: str, fn) -> str:
        try:
            store = await backend.store()
            session = await backend.run(store.get, session_id, what="loading the session")
            return await backend.run(fn, session, what="reading the session")
        except E.SessionNotFoundError as exc:
            raise ResourceNotFoundError(explain(exc, roots)) from exc
        except Exception as exc:
            if not is_expected(exc):
                log.exception("reading a resource of %s failed", session_id)
            raise ResourceError(explain(exc, roots)) from exc

    @server.resource("audio://sessions", name="sessions", title="Audio sessions", mime_type="application/json",
                     description="Every audio session with its status, newest first.")
    async def sessions_resource() -> str:
        try:
            return (await _session_list()).model_dump_json(indent=1)
        except Exception as exc:
            raise ResourceError(explain(exc, roots)) from exc

    @server.resource("audio://sessions/{session_id}", name="session", mime_type="application/json",
                     description="Status of one session.")
    async def session_resource(session_id: str) -> str:
        return await _resource(session_id, lambda s: SessionStatus.from_info(s.info).model_dump_json(indent=1))

    for fmt, suffix, mime in (("text", "", "text/plain"), ("srt", ".srt", "application/x-subrip"),
                              ("vtt", ".vtt", "text/vtt"), ("json", ".json", "application/json")):
        def transcript_resource(session_id: str, _fmt: str = fmt) -> Any:
            return _resource(session_id, lambda s: s.transcribe().render(_fmt))

        _register_transcript(server, transcript_resource, fmt, suffix, mime)

    @server.resource("audio://sessions/{session_id}/history", name="history", mime_type="application/json",
                     description="The session's conversation: every question, extraction and answer.")
    async def history_resource(session_id: str) -> str:
        return await _resource(session_id, lambda s: json.dumps([t.model_dump(mode="json") for t in s.history],
                                                                ensure_ascii=False, indent=1))

    # ----- prompts -------------------------------------------------------------------------------------
    async def _prompt(audio: str, task: str) -> list[UserMessage]:
        audio = audio.strip()
        store = backend.store_now()
        session_info = None
        if store is not None and audio:
            try:
                session_info = await backend.run(store.status, audio)
            except (E.SessionNotFoundError, OSError, ValueError):
                session_info = None
        if session_info is None:
            intro = (f"Call open_audio with path={json.dumps(audio)} to open the recording (wait with "
                     "session_status if it is still encoding).")
            return [UserMessage(f"{intro}\n\n{task}")]
        intro = (f"The recording is open as audio session {session_info.id} ({Path(session_info.source).name}, "
                 f"{session_info.duration_s:.0f} s, status {session_info.status}).")
        messages = [UserMessage(f"{intro}\n\n{task}")]
        if session_info.status == "ready":
            try:
                session = await backend.run(store.get, session_info.id)
                transcript = await backend.run(session.transcribe)
            except Exception as exc:  # noqa: BLE001 - the prompt still works without the embedded transcript
                log.warning("prompt: could not embed the transcript of %s: %s", session_info.id, exc)
                return messages
            if len(transcript.text) <= P.EMBED_MAX_CHARS:
                messages.append(UserMessage(EmbeddedResource(type="resource", resource=TextResourceContents(
                    uri=f"audio://sessions/{session_info.id}/transcript.srt", mime_type="application/x-subrip",
                    text=transcript.to_srt()))))
        return messages

    AudioArg = Annotated[str, Field(description="A session id (see list_audio_sessions) or the path of an audio "
                                                "file inside the allowed folders.")]

    @server.prompt(title="Meeting minutes")
    async def meeting_minutes(audio: AudioArg) -> list[UserMessage]:
        """Write minutes of a recorded meeting: attendees, decisions, action items, open questions."""
        return await _prompt(audio, P.MEETING_MINUTES)

    @server.prompt(title="Action items")
    async def action_items(audio: AudioArg) -> list[UserMessage]:
        """List the action items in a recording, with owner, due date and the time they were said."""
        return await _prompt(audio, P.ACTION_ITEMS)

    @server.prompt(title="Summarize a recording")
    async def summarize_recording(audio: AudioArg, focus: Annotated[str, Field(
            description="Optional: what the summary should concentrate on.")] = "") -> list[UserMessage]:
        """Summarize a recording in a few paragraphs with timestamps."""
        return await _prompt(audio, P.summary(focus))

    @server.prompt(title="Find moments")
    async def find_moments(audio: AudioArg, topic: Annotated[str, Field(
            description="What to look for, e.g. 'pricing' or 'when the budget is mentioned'.")]) -> list[UserMessage]:
        """Find every moment where a topic comes up, with times and quotes."""
        return await _prompt(audio, P.find_moments(topic))

    @server.prompt(title="Subtitles")
    async def subtitles(audio: AudioArg, format: Annotated[str, Field(
            description="srt or vtt")] = "srt") -> list[UserMessage]:
        """Produce subtitles (SRT or WebVTT) for a recording."""
        return await _prompt(audio, P.subtitles(format))

    return server


def _register_transcript(server: MCPServer, fn: Any, fmt: str, suffix: str, mime: str) -> None:
    async def read(session_id: str) -> str:
        return await fn(session_id)

    read.__name__ = f"transcript_{fmt}"
    what = {"text": "plain text", "srt": "SubRip subtitles", "vtt": "WebVTT subtitles", "json": "JSON segments"}[fmt]
    server.resource(f"audio://sessions/{{session_id}}/transcript{suffix}", name=f"transcript{suffix or '.txt'}",
                    title=f"Transcript ({what})", mime_type=mime,
                    description=f"The session's transcript as {what}; partial while the session is encoding.")(read)


__all__ = ["UserError", "create_server"]
