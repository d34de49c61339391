"""Speakers through every layer, on one real AMI meeting excerpt (30 s, two talkers) encoded once per module:
the session (in the open, and later on demand), the store across a restart, the CLI, the MCP server and the
LangChain tools; and the bad inputs (counts out of range, an engine that cannot, a recording with no speech).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aero_agent import cli
from aero_agent.engines.base import EncodedAudio
from aero_agent.errors import CapabilityError, InvalidArgumentError, SourceChangedError
from aero_agent.render import status_line
from aero_agent.results import SessionInfo
from aero_agent.session import AudioSession
from aero_agent.store import SessionStore
from aero_agent.transcript import Transcript
from speech_data import SPEECH_DIR, require_speech

AMI = SPEECH_DIR / "diarization" / "ami_ES2003b_0" / "ami_ES2003b_0.wav"


@pytest.fixture(scope="module")
def diarized(engine, tmp_path_factory) -> dict[str, Any]:
    """The AMI clip opened with speakers=True in a store (one encoding and one diarization for the module)."""
    require_speech()
    base = tmp_path_factory.mktemp("speakers")
    audio = base / "audio"
    audio.mkdir()
    shutil.copy(AMI, audio / "ami.wav")
    store = SessionStore(base / "store", engine)
    session = store.open(audio / "ami.wav", speakers=True)
    yield {"store": store, "session": session, "audio": audio, "base": base}
    store.shutdown()


def _copy_store(diarized: dict[str, Any], name: str) -> Path:
    """A copy of the module's store folder, so a skin's own store finds the diarized session and reuses it."""
    root = diarized["base"] / name
    diarized["store"].save(diarized["session"].id)
    shutil.copytree(diarized["base"] / "store", root)
    return root


def test_open_with_speakers_labels_every_segment_and_survives_a_restart(diarized, engine):
    """Catches speakers not run in the open, segments left unlabelled, the count not in the session's info, and
    labels lost when the store reloads the session."""
    store, session = diarized["store"], diarized["session"]
    transcript = session.transcribe()
    assert transcript.diarized and 2 <= session.info.speakers <= 3
    assert all(s.speaker for s in transcript.segments) and any(s.words for s in transcript.segments)
    assert len({s.speaker for s in transcript.segments}) == session.info.speakers
    assert f"{session.info.speakers} speakers" in status_line(session.info)
    assert transcript.render("txt").splitlines()[0].startswith("SPEAKER_00: ")
    assert transcript.to_rttm("ami").count("SPEAKER ami 1 ") == len(transcript.segments)
    store.save(session.id)
    again = SessionStore(store.root, engine).get(session.id)
    assert again.info.speakers == session.info.speakers
    assert again.transcribe().segments == transcript.segments and again.transcribe().diarized
    who = transcript.segments[0].speaker
    hits = again.search("the desk", 3, speaker=who)
    assert hits and all(h.speaker == who for h in hits)


def test_diarize_later_reads_the_file_again_not_the_speech(diarized, engine):
    """Catches diarize() re-running speech recognition, ignoring num_speakers, or trusting a changed file."""
    source = diarized["session"]
    plain = source.transcribe().model_copy(update={"diarized": False, "segments": [
        s.model_copy(update={"speaker": None}) for s in source.transcribe().segments]})
    info = source.info.model_copy(update={"speakers": None})
    session = AudioSession(info, engine, EncodedAudio(engine.name, engine.model_id, info.duration_s, plain))
    encoder_s = engine.timings["encoder"]
    labelled = session.diarize(num_speakers=2)
    assert engine.timings["encoder"] == encoder_s  # no audio went through Whisper again
    assert {s.speaker for s in labelled.segments} == {"SPEAKER_00", "SPEAKER_01"} and session.info.speakers == 2
    assert session.ensure_speakers(True, 2) is not None and session.info.speakers == 2
    path = Path(info.source)
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 10))
    try:
        with pytest.raises(SourceChangedError):
            session.diarize(num_speakers=3)
    finally:
        os.utime(path, (stat.st_atime, stat.st_mtime))
    assert session.info.speakers == 2  # the failed call changed nothing


def test_bad_requests_are_typed_errors_before_any_decoding(engine):
    """Catches a count out of range or speakers on an engine without timed transcripts reaching the decoder."""
    require_speech()

    class Untimed:  # the real engine, declaring that it writes no times
        def __init__(self, inner: Any) -> None:
            self.inner, self.name, self.model_id = inner, inner.name, inner.model_id
            self.capabilities = dataclasses.replace(inner.capabilities, timestamps=False)

    for bad in ({"num_speakers": 0}, {"num_speakers": 21}, {"min_speakers": 3, "max_speakers": 2},
                {"speakers": "yes"}):
        with pytest.raises(InvalidArgumentError):
            AudioSession.open(AMI, engine, **bad)
    with pytest.raises(CapabilityError, match="timed transcript"):
        AudioSession.open(AMI, Untimed(engine), speakers=True)


def test_no_speech_is_an_honest_empty_result(engine):
    """Catches a crash, or invented speakers, on a recording with no speech; and diarize() on in-memory audio
    without the samples given again."""
    noise = (np.random.default_rng(0).standard_normal(5 * 16_000) * 0.002).astype(np.float32)
    info = SessionInfo(id="snoise", source="<array>", duration_s=5.0, engine=engine.name, model_id=engine.model_id,
                       status="ready")
    session = AudioSession(info, engine, EncodedAudio(engine.name, engine.model_id, 5.0, Transcript(duration_s=5.0)))
    with pytest.raises(CapabilityError, match="audio="):
        session.diarize()
    labelled = session.diarize(audio=noise, sample_rate=16_000)
    assert labelled.diarized and labelled.speakers() == [] and session.info.speakers == 0
    assert labelled.to_rttm() == "" and labelled.render("txt") == ""
    with pytest.raises(InvalidArgumentError, match="no speech was heard"):
        session.search("anything", speaker="SPEAKER_00")


def test_cli_transcribe_with_speakers(diarized, tmp_path, capsys):
    """Catches --speakers not reaching the session, rttm/json without speakers or words, and bad counts
    crashing instead of exiting 2 (on a 10 s crop of the meeting)."""
    import soundfile as sf

    samples, rate = sf.read(AMI, dtype="float32")
    crop = tmp_path / "crop.wav"
    sf.write(crop, samples[: 10 * rate], rate)
    assert cli.main(["transcribe", str(crop), "--speakers", "--format", "json", "-q"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["diarized"] and all(s["speaker"] for s in data["segments"]) and "events" in data
    assert all(s["words"] for s in data["segments"])
    for argv in (["--num-speakers", "0"], ["--format", "rttm"], ["--min-speakers", "4", "--max-speakers", "2"]):
        assert cli.main(["transcribe", str(crop), "-q", *argv]) == 2
        assert "aero-agent: error:" in capsys.readouterr().err


def test_mcp_open_list_speakers_and_labelled_resources(diarized, engine):
    """Catches the MCP skin without speakers: open_audio(speakers) on an open file, list_speakers, rttm and
    labelled text, the speaker count in the status, and a bad num_speakers killing the call."""
    from mcp import Client
    from mcp_driver import drive

    from aero_mcp import ServerConfig, create_server

    root = _copy_store(diarized, "mcp-store")
    server = create_server(ServerConfig(allow_dirs=[diarized["audio"]], store_dir=root), engine=engine)

    async def script(client: Client) -> None:
        opened = (await client.call_tool("open_audio", {"path": "ami.wav", "speakers": True})).structured_content
        assert opened["reused"] and opened["speakers"] == diarized["session"].info.speakers
        sid = opened["session_id"]
        listed = await client.call_tool("list_speakers", {"session_id": sid})
        assert listed.structured_content["diarized"]
        assert [s["speaker"] for s in listed.structured_content["speakers"]]
        assert "SPEAKER_00: " in listed.content[0].text
        rttm = await client.call_tool("transcribe_audio", {"session_id": sid, "format": "rttm"})
        assert rttm.structured_content["text"].startswith("SPEAKER ")
        text = (await client.read_resource(f"audio://sessions/{sid}/transcript")).contents[0].text
        assert text.startswith("SPEAKER_00: ")
        bad = await client.call_tool("transcribe_audio", {"session_id": sid, "speakers": True, "num_speakers": 0})
        assert bad.is_error
        fixed = await client.call_tool("transcribe_audio", {"session_id": sid, "num_speakers": 2, "format": "srt"})
        assert not fixed.is_error and "SPEAKER_01" in fixed.structured_content["text"]
        status = (await client.call_tool("session_status", {"session_id": sid})).structured_content
        assert status["speakers"] == 2 and "list_speakers" in status["message"]

    drive(server, script)


def test_langchain_open_audio_and_list_speakers(diarized, engine):
    """Catches the LangChain skin without speakers: open_audio(speakers=True) reusing the session, list_speakers
    text and artifact, transcribe_audio in rttm, and num_speakers out of range as an error message."""
    from langchain_aero import AudioToolkit

    store = SessionStore(_copy_store(diarized, "lc-store"), engine)
    tools = {t.name: t for t in AudioToolkit(store=store, allowed_dirs=[diarized["audio"]]).get_tools()}

    def call(name: str, **args: Any) -> Any:
        return tools[name].invoke({"type": "tool_call", "id": f"call-{name}", "name": name, "args": args})

    opened = call("open_audio", path="ami.wav", speakers=True)
    assert opened.status == "success" and "speaker(s) found" in opened.content
    sid = opened.artifact["session_id"]
    listed = call("list_speakers", session_id=sid)
    assert listed.artifact["diarized"] and listed.content.splitlines()[1].startswith("SPEAKER_0")
    assert abs(sum(s["share"] for s in listed.artifact["speakers"]) - 1.0) < 0.01
    assert call("transcribe_audio", session_id=sid, format="rttm").content.startswith("SPEAKER ")
    bad = call("transcribe_audio", session_id=sid, num_speakers=99)
    assert bad.status == "error" and "num_speakers" in bad.content
    store.shutdown()
