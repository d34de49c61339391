"""The skins stay thin: hints keyed by error type in each skin, one renderer in the core, typed fields across
layers, ``session_id`` in every result, tools added as one small function, the toolkit's tool map."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

import pytest
import torch
from langchain_aero import TOOLS, AudioToolkit
from mcp import Client
from pydantic import Field, ValidationError

from aero_agent import errors as E
from aero_agent.persistence import session_files as disk
from aero_agent.data import DATA_DIR, example_path
from aero_agent.engines.base import EncodedAudio
from aero_agent.render import answer_text, input_hints, next_step, status_line, transcript_excerpt, with_next_step
from aero_agent.results import Answer
from aero_agent.results import SessionInfo
from aero_agent.store import SessionStore
from aero_agent.transcript import Segment, Transcript
from mcp_driver import drive

from aero_mcp import ServerConfig, create_server  # noqa: E402
from aero_mcp.registry import ENTRIES, READ_ONLY, Session, SessionId, WaitS, tool  # noqa: E402
from aero_mcp.backend import explain, hints as mcp_hints  # noqa: E402
from langchain_aero.base import hints as langchain_hints  # noqa: E402


# ----- next steps: each skin's table, keyed by type ------------------------------------------------------
def test_input_hints_per_error_type() -> None:
    """(Moved from the core's next_step.) Catches: roots dropped from the path hints, a parent type's hint
    winning over its subclass's, and a hint made up for errors that need none."""
    roots = [Path("/data/audio"), Path("/data/more")]
    table = input_hints(roots)
    missing = E.AudioNotFoundError("x.wav", "no such file")
    assert "relative paths are taken from /data/audio" in next_step(missing, table)
    assert "/data/audio, /data/more" in next_step(missing, table)
    assert next_step(missing, input_hints()) == "Check the path."
    assert "relative paths are taken from /data/audio" in next_step(E.NotAFileError("d", "a folder"), table)
    assert "allowed folders" in next_step(E.PathNotAllowedError("/etc/passwd: outside"), table)
    assert "Split or trim" in next_step(E.AudioTooLongError("x.wav", "too long"), table)
    assert "cannot be used as audio" in next_step(E.CorruptAudioError("x.wav", "truncated"), table)
    for quiet in (E.CapabilityError("cannot"), E.InvalidArgumentError("bad"), ValueError("other")):
        assert next_step(quiet, table) == ""
    assert with_next_step(E.InvalidArgumentError("k must be 1 to 100"), table) == "k must be 1 to 100"
    assert with_next_step(missing, input_hints()) == "x.wav: no such file. Check the path."
    assert with_next_step(E.CapabilityError("no."), table).endswith("no.")


def test_each_skin_names_its_own_tools_and_options_and_the_core_names_none(tmp_path: Path) -> None:
    """Catches: the store's message naming a tool again, a skin's hint keyed by message text (the store's
    message no longer names list_audio_sessions, so the hint must come from the type), or one skin's options
    showing in the other."""
    with pytest.raises(E.SessionNotFoundError) as unknown:
        SessionStore(tmp_path).get("snothere00000")
    assert "list_audio_sessions" not in str(unknown.value) and "open_audio" not in str(unknown.value)
    roots = [tmp_path]
    for table in (mcp_hints(roots), langchain_hints(roots)):
        step = next_step(unknown.value, table)
        assert "list_audio_sessions" in step and "open_audio" in step
    outside = E.PathNotAllowedError("/etc/passwd: outside the allowed folders")
    assert "--allow-dir" in next_step(outside, mcp_hints(roots))
    assert "allowed_dirs" in next_step(outside, langchain_hints(roots))
    assert "--allow-dir" not in next_step(outside, langchain_hints(roots))
    assert "--max-duration" in explain(E.AudioTooLongError("x.wav", "too long"), roots)
    for text in input_hints(roots).values():
        assert "_audio" not in text and "--" not in text  # the core's hints name no tool and no option


# ----- one renderer ----------------------------------------------------------------------------------------
def test_answer_text_shows_evidence_unless_it_is_the_answer() -> None:
    """Catches: evidence printed twice for transcript-evidence answers, or dropped for reasoned answers, and
    notes lost."""
    evidence = [Segment(start=1.0, end=4.5, text=" ask not "), Segment(start=61, end=65, text="the rest")]
    reasoned = Answer(text="He asks.", evidence=evidence, turn=1, method="reasoner", notes=["only part searched"])
    text = answer_text(reasoned)
    assert text.startswith("He asks.") and "Evidence:\n[00:01-00:04] ask not\n[01:01-01:05] the rest" in text
    assert text.endswith("(only part searched)")
    plain = Answer(text="Best-matching transcript evidence: ...", evidence=evidence, turn=1,
                   method="transcript-evidence")
    assert answer_text(plain) == plain.text


def test_status_line_and_excerpt_notes() -> None:
    """Catches: the interrupted state read from the error text instead of the typed field, and an excerpt
    that is cut without saying where to read on."""
    info = SessionInfo(id="s1", source="/x/talk.wav", duration_s=12.0, engine="whisper", model_id="tiny.en",
                       status="failed", error="EncodingCancelledError: stopped", interrupted=True, turns=1)
    assert status_line(info) == ("s1: talk.wav, 12.0 s, engine whisper tiny.en, failed (interrupted by a stop "
                                 "while encoding), 1 turn")
    failed = info.model_copy(update={"interrupted": False})
    assert "failed (EncodingCancelledError: stopped)" in status_line(failed)
    t = Transcript(segments=[Segment(start=i, end=i + 1, text="x" * 60) for i in range(10)], duration_s=10)
    cut = transcript_excerpt(t, "srt", 300, 1.0)
    assert cut.next_start_s == 3 and len(cut.shown.segments) == 3
    assert any("start_s=3" in note for note in cut.notes)
    partial = transcript_excerpt(t.model_copy(update={"complete": False}), "text", 100_000, 0.4)
    assert partial.next_start_s is None and partial.notes[0].startswith("Encoding is 40% done")
    empty = transcript_excerpt(Transcript(segments=[], duration_s=10), "text", 1000, 1.0)
    assert empty.notes == ["No speech in this range."]


# ----- typed fields ----------------------------------------------------------------------------------------
def test_answer_method_is_typed() -> None:
    """Catches: Answer.method a plain str again (any value accepted)."""
    with pytest.raises(ValidationError):
        Answer(text="x", turn=1, method="guess")


def test_transcript_only_answers_carry_typed_notes(engine) -> None:
    """Catches: the skins' note read from metadata only (the typed field empty) or complete wrongly False."""
    from aero_agent import AudioSession

    answer = AudioSession.open(example_path("jfk"), engine).ask("What should you ask?")
    assert answer.method == "transcript-evidence" and answer.complete is True
    assert answer.notes and "cannot reason" in answer.notes[0]


def test_volatile_prefixes_are_a_field_saved_and_read_back(tmp_path: Path) -> None:
    """Catches: the prefixes kept only in meta (lost on the typed path) or not written to disk, so a turn
    would rewrite the large tensors; sessions saved in the earlier form (in meta) still load."""
    encoded = EncodedAudio(engine="x", model_id="m", duration_s=1.0,
                           tensors={"prefix": torch.zeros(4), "seg0.turn.k": torch.ones(2)},
                           volatile_tensor_prefixes=("seg0.turn",))
    disk.save_encoded(tmp_path, encoded)
    back = disk.load_encoded(tmp_path)
    assert back.volatile_tensor_prefixes == ("seg0.turn",) and "volatile_tensor_prefixes" not in back.meta
    before = (tmp_path / disk.TENSORS).stat().st_mtime_ns
    disk.save_encoded(tmp_path, back, volatile_only=True)
    assert (tmp_path / disk.TENSORS).stat().st_mtime_ns == before
    legacy = EncodedAudio(engine="x", model_id="m", duration_s=1.0, meta={"volatile_tensor_prefixes": ["a"]})
    assert legacy.volatile_tensor_prefixes == ("a",) and legacy.meta == {}


def test_recovered_sessions_are_marked_interrupted(tmp_path: Path) -> None:
    """Catches: the interrupted state left to the error's wording (the field stays False after recovery)."""
    from aero_agent.persistence.layout import INFO
    from aero_agent.persistence.atomic import write_json

    (tmp_path / "sdead0000000").mkdir()
    info = SessionInfo(id="sdead0000000", source="/x.wav", duration_s=3.0, engine="whisper", model_id="m")
    write_json(tmp_path / "sdead0000000" / INFO, info.model_dump())
    store = SessionStore(tmp_path)
    assert store.interrupted == ["sdead0000000"]
    status = store.status("sdead0000000")
    assert status.status == "failed" and status.interrupted is True


# ----- session_id in every result ----------------------------------------------------------------------------
def test_langchain_results_name_the_session_session_id(engine) -> None:
    """Catches: an artifact without session_id (open_audio and list_audio_sessions said only `id`)."""
    kit = AudioToolkit(engine=engine, allowed_dirs=[DATA_DIR])
    try:
        tools = {t.name: t for t in kit.get_tools()}
        opened = tools["open_audio"].invoke({"type": "tool_call", "id": "1", "name": "open_audio",
                                             "args": {"path": example_path("jfk").name}}).artifact
        sid = opened["session_id"]
        assert opened["id"] == sid  # the earlier name stays for existing callers
        listed = tools["list_audio_sessions"].invoke({"type": "tool_call", "id": "2", "name": "list_audio_sessions",
                                                      "args": {}}).artifact
        assert [s["session_id"] for s in listed] == [sid]
        asked = tools["ask_audio"].invoke({"type": "tool_call", "id": "3", "name": "ask_audio",
                                           "args": {"session_id": sid, "question": "What?"}}).artifact
        assert asked["session_id"] == sid
    finally:
        kit.store.shutdown()


# ----- a new tool is one function; the toolkit selects from its map --------------------------------------
def test_a_tool_declared_at_module_level_is_served_with_its_dependencies(engine, tmp_path: Path) -> None:
    """Catches: the registry not putting declared tools on the server, the session dependency not loading
    the session, or a core error in a new tool escaping as an opaque internal error (without its hint)."""
    @tool("Count words", READ_ONLY)
    async def count_words(call: Session, session_id: SessionId, wait_s: WaitS = None,
                          fail: Annotated[bool, Field(description="Raise a core error.")] = False) -> dict[str, Any]:
        """Count the words said in a session."""
        if fail:
            raise E.AudioNotFoundError("other.wav", "no such file")
        transcript = await call.run(call.session.transcribe, what="transcription")
        return {"words": len(transcript.text.split())}

    (tmp_path / "audio").mkdir()
    shutil.copy(example_path("jfk"), tmp_path / "audio" / "jfk.wav")
    try:
        server = create_server(ServerConfig(allow_dirs=[tmp_path / "audio"], store_dir=tmp_path / "store"),
                               engine=engine)
    finally:
        ENTRIES.pop()  # the other tests' servers stay as declared

    async def script(client: Client) -> None:
        sid = (await client.call_tool("open_audio", {"path": "jfk.wav", "wait_s": 50})
               ).structured_content["session_id"]
        counted = await client.call_tool("count_words", {"session_id": sid})
        assert not counted.is_error and counted.structured_content["words"] > 15
        failed = await client.call_tool("count_words", {"session_id": sid, "fail": True})
        text = failed.content[0].text
        assert failed.is_error and "AudioNotFound: other.wav: no such file" in text
        assert "relative paths are taken from" in text
        unknown = await client.call_tool("count_words", {"session_id": "snothere00000"})
        assert unknown.is_error and "list_audio_sessions" in unknown.content[0].text

    drive(server, script)


def test_toolkit_selects_tools_from_the_map() -> None:
    """Catches: selected_tools ignored, a name outside the map accepted, or get_tool handing out a tool that
    was not selected."""
    assert list(TOOLS) == ["open_audio", "transcribe_audio", "ask_audio", "search_audio", "extract_from_audio",
                           "list_audio_sessions", "close_audio_session", "search_library", "start_live_session",
                           "append_audio", "finish_live_session", "list_speakers", "list_events", "name_speaker",
                           "enroll_voice", "list_voices", "forget_voice", "store_vocabulary"]
    kit = AudioToolkit(selected_tools=["search_audio", "open_audio"])
    assert [t.name for t in kit.get_tools()] == ["open_audio", "search_audio"]
    assert kit.get_tool("open_audio").allowed_dirs == kit.allowed_dirs
    with pytest.raises(KeyError):
        kit.get_tool("ask_audio")
    with pytest.raises(ValueError, match="no tool play_audio"):
        AudioToolkit(selected_tools=["play_audio"])
