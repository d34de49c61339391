"""Sound events on real audio: music found as music (also under a voice), speech never called music, probing
finding the music of the full pass for less, the events in every format and in both skins' ``list_events`` (bad
arguments refused), search filtered by event kind in the core, both skins and the CLI, and a store written before
events were typed still loading."""

from __future__ import annotations

import json
import shutil
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from aero_agent import cli
from aero_agent.audio import load_audio
from aero_agent.cli.chat import ChatRepl
from aero_agent.errors import InvalidArgumentError
from aero_agent.sound_events import LiveEvents, SoundEventDetector, merge_events, share_tags
from aero_agent.vad import SileroVad
from aero_agent.store import SessionStore
from aero_agent.transcript import AudioEvent, Segment, Transcript
from speech_data import speech_file

RATE = 16_000


def _clip(name: str) -> np.ndarray:
    return load_audio(speech_file(name)).samples.astype(np.float32)


def _under(voice: np.ndarray, music: np.ndarray, db: float = 12.0) -> np.ndarray:
    """``voice`` with ``music`` (repeated to its length) ``db`` under it."""
    music = np.resize(music, len(voice))
    return voice + music * (np.std(voice) / np.std(music)) * 10 ** (-db / 20)


@pytest.fixture(scope="module")
def detector() -> SoundEventDetector:
    return SoundEventDetector()


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> dict[str, Any]:
    """12 s of music, 1 s silence, JFK (11 s), 1 s silence, 8 s of music: known places, written to a file."""
    music = _clip("music_vibe_ace.wav")
    speech = _clip("jfk_inaugural_1961.wav")
    quiet = np.zeros(RATE, np.float32)
    samples = np.concatenate([music[: 12 * RATE], quiet, speech, quiet, _clip("music_brahms_hungarian_dance_5.wav")[: 8 * RATE]])
    folder = tmp_path_factory.mktemp("events")
    (folder / "audio").mkdir()
    path = folder / "audio" / "show.wav"
    sf.write(path, samples, RATE)
    speech_at = (13.0, 13.0 + len(speech) / RATE)
    return {"path": path, "folder": folder, "speech_at": speech_at, "outro_at": speech_at[1] + 1.0}


@pytest.fixture(scope="module")
def stored(engine, recording) -> dict[str, Any]:
    """The recording opened once in a store."""
    store = SessionStore(recording["folder"] / "store", engine)
    session = store.open(recording["path"])
    store.save(session.id)
    yield {"store": store, "session": session}
    store.shutdown()


def test_music_clips_are_music_and_speech_is_not(detector):
    """Catches the detector not loading, a wrong probability column, frames misplaced in time, and speech
    called music: two music clips come out (almost) whole as music; clean speech gives no music event."""
    for name in ("music_vibe_ace.wav", "music_brahms_hungarian_dance_5.wav"):
        samples = _clip(name)
        music = [e for e in detector.detect(samples) if e.kind == "music"]
        covered = sum(e.end - e.start for e in music)
        assert covered >= 0.9 * len(samples) / RATE, (name, music)
        assert all(0.5 <= (e.confidence or 0) <= 1 for e in music)
    for name in ("jfk_inaugural_1961.wav", "librispeech_2412-153948-0000.wav"):
        assert not [e for e in detector.detect(_clip(name)) if e.kind in ("music", "singing")], name


def test_long_recordings_go_through_in_blocks_with_the_same_frames(detector):
    """Catches block joins that shift or drop frames: a recording cut into 5 s blocks gives the probabilities
    of one pass, within the model's context at the joins."""
    samples = np.concatenate([_clip("music_vibe_ace.wav"), _clip("jfk_inaugural_1961.wav")])
    whole = detector.probabilities(samples)
    blocked = SoundEventDetector(block_s=5.0, context_s=2.0).probabilities(samples)
    assert whole.shape == blocked.shape == (len(samples) // 160, 3)
    assert np.mean(np.abs(whole - blocked)) < 0.02


def _music_frames(events, n: int) -> np.ndarray:
    mask = np.zeros(n, bool)
    for e in events:
        if e.kind == "music":
            mask[int(e.start * 100): int(e.end * 100)] = True
    return mask


def test_probing_finds_the_music_of_the_full_pass_for_less(detector):
    """Catches probes that miss music the full pass finds (under a voice or alone) or that run the model on
    everything: on 100 s of speech with music under one clip and music alone after another, the probed events
    cover the full pass's music frames, and the model ran on well under 70 % of the recording; the probes' first
    stage run apart (beside the voice detector) gives the same events; a recording too short for probes to pay
    runs whole."""
    quiet = np.zeros(RATE // 2, np.float32)
    music = _clip("music_brahms_hungarian_dance_5.wav")
    parts = [_clip("osr_us_000_0034.wav"), quiet, _under(_clip("librispeech_2412-153948-0000.wav"), music), quiet,
             _clip("realpython_harvard.wav"), quiet, music[: 6 * RATE], quiet, _clip("mfa_acoustic_corpus.wav")]
    samples = np.concatenate(parts)
    speech = [(r.start, r.end) for r in SileroVad().regions(samples)]
    full = detector.detect(samples)
    probed = detector.detect(samples, speech)
    n = len(samples) // 160
    want, got = _music_frames(full, n), _music_frames(probed, n)
    assert want.sum() > 15 * 100 and (want & got).sum() >= 0.95 * want.sum() and (got & ~want).sum() < 50
    ran = np.abs(detector.probed_probabilities(samples, speech)).sum(axis=1) > 0
    assert ran.mean() < 0.7, ran.mean()
    assert SoundEventDetector(probes=None).detect(samples, speech) == full  # no probes: the full pass
    probe = detector.probe(samples)  # the first stage alone (as the pipeline runs it beside the voice detector)
    assert 0 < probe.tiles.sum() < 0.1 * len(probe.tiles) and probe.full is None
    assert detector.detect(samples, speech, probe) == probed  # then the rest: the same events
    short = _clip("music_trumpet_loop.wav")  # 5 s, all "speech" to the probes: a short recording runs whole
    assert np.array_equal(detector.probed_probabilities(short, [(0, len(short))]), detector.probabilities(short))


def test_music_under_speech_is_an_overlapping_event_and_the_segment_says_so(detector):
    """Catches music under a voice left out (or the speech dropped for it): JFK with the vibraphone 12 dB under
    it gives a music event overlapping the speech, and the merged segment's background is music."""
    speech = _clip("jfk_inaugural_1961.wav")
    mixed = _under(speech, _clip("music_vibe_ace.wav"))
    found = [e for e in detector.detect(mixed) if e.kind == "music"]
    assert sum(e.end - e.start for e in found) >= 0.6 * len(speech) / RATE, found
    transcript = Transcript(segments=[Segment(start=0.5, end=10.5, text="ask not")], duration_s=11.0,
                            events=[AudioEvent(start=0.0, end=0.4, kind="non-speech")])
    merged = merge_events(transcript, found)
    assert merged.segments[0].background == "music"
    assert [e.kind for e in merged.events if e.kind != "music"] == []  # the sound left is under a second


def test_transcript_formats_mark_events(engine, recording):
    """Catches events missing from a format: the whole pipeline on the recording gives music at both ends and
    the speech between (no music-only event over it); JSON has kinds, txt/srt/vtt add [music] cues only with
    events=True, RTTM is unchanged, and the CLI's --events prints them."""
    from aero_agent.audio import AudioClip

    clip = load_audio(recording["path"])
    transcript = engine.transcribe_clips([AudioClip(clip.samples, "show", RATE, 1)])[0]
    music = [e for e in transcript.events if e.kind == "music"]
    lo, hi = recording["speech_at"]
    assert music and music[0].start < 1.0 and music[0].end > 10.0 and music[-1].end > recording["outro_at"] + 6.0
    assert "ask not what your country" in transcript.text.lower()
    speech = [s for s in transcript.segments if s.end > lo and s.start < hi]
    assert speech and all(s.background is None for s in speech)
    assert not [e for e in music if e.start < hi - 1.0 and e.end > lo + 1.0]  # no music over the speech
    data = json.loads(transcript.render("json"))
    assert {e["kind"] for e in data["events"]} >= {"music"} and all("confidence" in e for e in data["events"])
    srt = transcript.render("srt", events=True)
    assert srt.startswith("1\n00:00:00") and "[music]" in srt.split("\n\n")[0]
    assert "[music]" not in transcript.render("srt") and "[music]" not in transcript.render("vtt")
    assert transcript.render("vtt", events=True).count("[music]") == len(music)
    text = transcript.render("txt", events=True).splitlines()
    assert text[0].startswith("[music] 00:00-00:1") and text[-1].startswith("[music]")
    assert [line for line in text if not line.startswith("[")] == [transcript.text]
    assert transcript.render("txt") == transcript.text
    assert "[music]" not in transcript.model_copy(update={"diarized": True}).render("rttm")


def test_cli_events_and_transcribe_with_events(stored, recording, capsys):
    """Catches the CLI without events: ``transcribe --events`` prints [music] lines, ``events --kind music``
    lists them, and a bad kind is refused."""
    path = str(recording["path"])
    assert cli.main(["transcribe", path, "-q", "--events"]) == 0
    assert capsys.readouterr().out.startswith("[music] 00:00-")
    assert cli.main(["events", path, "-q", "--kind", "music", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed and all(e["kind"] == "music" for e in listed)
    with pytest.raises(SystemExit):
        cli.main(["events", path, "-q", "--kind", "jazz"])
    capsys.readouterr()


def test_session_events_tags_and_library_filter(stored):
    """Catches events not reachable from the session, share tags missing, and search_library's filter by kind:
    the session lists music, its tags carry the music share, and tags=["music"] finds it."""
    store, session = stored["store"], stored["session"]
    assert [e.kind for e in session.events("music")] and not session.events("singing", 13.0, 20.0)
    with pytest.raises(InvalidArgumentError):
        session.events("jazz")
    with pytest.raises(InvalidArgumentError):
        session.events(None, 50.0, 10.0)
    tags = share_tags(session.transcribe())
    assert tags[0].startswith("music ") and tags[-1].startswith("speech ")
    hits = store.search("fellow Americans", tags=["music"])
    assert hits and hits[0].session_id == session.id
    assert store.search("fellow Americans", tags=["singing"]) == []


def test_list_events_in_both_skins_refuses_bad_arguments(engine, stored, recording):
    """Catches list_events missing from a skin, its kind or time filters ignored, and bad arguments accepted:
    MCP and LangChain both list the music, filter it, and refuse an unknown kind or a reversed range."""
    from langchain_aero import AudioToolkit
    from mcp import Client
    from mcp_driver import drive

    from aero_mcp import ServerConfig, create_server

    stored["store"].save(stored["session"].id)
    root = recording["folder"] / "skins-store"
    shutil.copytree(recording["folder"] / "store", root, dirs_exist_ok=True)
    sid = stored["session"].id

    tools = {t.name: t for t in AudioToolkit(store=SessionStore(root, engine),
                                             allowed_dirs=[recording["path"].parent]).get_tools()}

    def call(**args: Any) -> Any:
        return tools["list_events"].invoke({"type": "tool_call", "id": "c", "name": "list_events", "args": args})

    listed = call(session_id=sid, kind="music")
    assert listed.status == "success" and "[music]" in listed.content
    assert listed.artifact["events"] and all(e["kind"] == "music" for e in listed.artifact["events"])
    assert call(session_id=sid, kind="music", start_s=13.5, end_s=20.0).artifact["events"] == []
    for bad in ({"kind": "jazz"}, {"start_s": -1.0}, {"start_s": 30.0, "end_s": 5.0}):
        refused = call(session_id=sid, **bad)
        assert refused.status == "error" and "Error" in refused.content, bad
    shown = tools["transcribe_audio"].invoke({"type": "tool_call", "id": "t", "name": "transcribe_audio",
                                              "args": {"session_id": sid, "format": "srt", "events": True}})
    assert "[music]" in shown.content and "[music]" not in tools["transcribe_audio"].invoke({"session_id": sid})

    server = create_server(ServerConfig(allow_dirs=[recording["path"].parent], store_dir=root), engine=engine)

    async def script(client: Client) -> None:
        names = {t.name for t in (await client.list_tools()).tools}
        assert "list_events" in names
        got = await client.call_tool("list_events", {"session_id": sid, "kind": "music"})
        assert not got.is_error and got.structured_content["events"][0]["kind"] == "music"
        assert "[music]" in got.content[0].text
        srt = await client.call_tool("transcribe_audio", {"session_id": sid, "format": "vtt", "events": True})
        assert srt.structured_content["text"].count("[music]") == len(got.structured_content["events"])
        for bad in ({"kind": "jazz"}, {"start_s": 30.0, "end_s": 5.0}, {"end_s": -2}):
            assert (await client.call_tool("list_events", {"session_id": sid, **bad})).is_error, bad

    drive(server, script)


def test_store_written_before_typed_events_loads(engine, stored, recording):
    """Catches old sessions failing to load: a stored transcript whose events are ``non-speech`` (as written
    before events were typed, without confidence or background) loads, lists its events, and renders."""
    store, session = stored["store"], stored["session"]
    store.save(session.id)
    root = recording["folder"] / "old-store"
    shutil.copytree(recording["folder"] / "store", root, dirs_exist_ok=True)
    folder = root / session.id
    path = next(p for p in folder.iterdir() if p.name.startswith("transcript") and p.suffix == ".json")
    data = json.loads(path.read_text())
    data["events"] = [{"start": e["start"], "end": e["end"], "kind": "non-speech"} for e in data["events"]]
    for seg in data["segments"]:
        seg.pop("background", None)
    path.write_text(json.dumps(data))
    old = SessionStore(root, engine)
    try:
        loaded = old.get(session.id)
        events = loaded.events()
        assert events and {e.kind for e in events} == {"non-speech"}
        assert loaded.events("music") == []
        assert "[non-speech]" in loaded.transcribe().render("srt", events=True)
    finally:
        old.shutdown()


def test_live_session_reports_events_as_heard(engine):
    """Catches a live session deaf to music, or one that runs the detector on every decode: music fed after
    speech shows as an event before the stream ends, and the finished transcript keeps it with the speech."""
    from aero_agent.session import AudioSession

    speech, music = _clip("jfk_inaugural_1961.wav"), _clip("music_vibe_ace.wav")[: 10 * RATE]
    session = AudioSession.live(engine)
    assert session.live.processor.engine.sound_events is None  # the live decodes skip it: the stream runs it once
    stream = np.concatenate([speech, music])
    for lo in range(0, len(stream), RATE):
        session.feed((stream[lo: lo + RATE] * 32767).astype(np.int16))
    heard = session.events("music")
    assert heard and heard[0].start < len(speech) / RATE + 1.0 and session.transcribe().complete is False
    final = session.finish()
    music_events = [e for e in final.events if e.kind == "music"]
    assert music_events and music_events[-1].end >= len(stream) / RATE - 0.5
    assert "country" in final.text.lower()


def test_live_events_run_on_new_audio_and_equal_the_offline_pass(detector):
    """Catches live events that re-run the stream so far, wait for its end, or drift from the offline pass: speech,
    music, speech over music and music again, fed in uneven chunks. The first music shows while it plays; the
    detector never holds much more than a step of audio; the events before a quiet stretch settle and their frames
    are dropped; the finished events equal the offline full pass's."""
    jfk, reader = _clip("jfk_inaugural_1961.wav"), _clip("librispeech_2412-153948-0000.wav")
    music = _clip("music_vibe_ace.wav")
    stream = np.concatenate([jfk, music[: 12 * RATE], reader, _under(reader, music), music[: 8 * RATE]])
    offline = detector.detect(stream)  # music from the end of JFK's applause to the reader, and under him on
    music_to = (len(jfk) + 12 * RATE) / RATE
    live, held, first_heard = LiveEvents(detector), [], None
    rng = np.random.default_rng(0)
    lo = 0
    while lo < len(stream):
        hi = min(len(stream), lo + int(rng.uniform(0.2, 1.7) * RATE))
        live.feed(stream[lo:hi])
        lo = hi
        held.append(len(live.audio))
        music = [e for e in live.events() if e.kind == "music"]
        if music and first_heard is None:
            first_heard = lo / RATE
            assert abs(music[0].start - offline[0].start) < 0.05
    assert first_heard is not None and first_heard < music_to  # heard while the music played
    assert max(held) <= live.context + live.step + live.ahead + int(1.7 * RATE)
    assert live.settled and live.settled[0].kind == "music" and live.base > (len(jfk) + 12 * RATE) // 160
    live.finish()
    assert live.events() == offline


@pytest.fixture(scope="module")
def over_music(engine, tmp_path_factory) -> dict[str, Any]:
    """JFK alone, then a LibriSpeech reader with the vibraphone 12 dB under him (both say "country"), stored."""
    jfk, reader = _clip("jfk_inaugural_1961.wav"), _clip("librispeech_2412-153948-0000.wav")
    quiet = np.zeros(RATE, np.float32)
    folder = tmp_path_factory.mktemp("over-music")
    (folder / "audio").mkdir()
    path = folder / "audio" / "talk.wav"
    sf.write(path, np.concatenate([jfk, quiet, _under(reader, _clip("music_vibe_ace.wav")), quiet]), RATE)
    store = SessionStore(folder / "store", engine)
    session = store.open(path)
    store.save(session.id)
    yield {"store": store, "session": session, "folder": folder, "path": path, "music_from": 12.0}
    store.shutdown()


def test_search_filters_by_event_kind(over_music):
    """Catches an event filter ignored or misapplied: "country" is said by JFK and over the music; the session's
    (and the chat's /search) and the library's search with event="music" keep only passages over the music event,
    singing finds none, and an unknown kind is refused."""
    store, session, lo = over_music["store"], over_music["session"], over_music["music_from"]
    music = session.events("music")
    assert music and music[0].start < lo + 2.0 and music[0].end > lo + 8.0, music
    every = session.search("country", k=10)
    assert any(h.end <= lo for h in every) and any(h.start >= lo - 0.5 for h in every)
    over = session.search("country", k=10, event="music")
    assert over and all(any(h.end > e.start and h.start < e.end for e in music) for h in over)
    assert not [h for h in over if h.end <= music[0].start] and len(over) < len(every)
    assert "native country" in over[0].text.lower()
    assert session.search("country", event="singing") == []
    with pytest.raises(InvalidArgumentError):
        session.search("country", event="jazz")
    repl = ChatRepl(session)
    assert "native country" in repl.search("country --event music -k 1").lower()
    assert repl.search("country --event singing").startswith("No passage matches 'country', over singing")
    with pytest.raises(InvalidArgumentError):
        repl.search("country --event jazz")
    library = store.search("country", k=10, event="music")
    assert library and {h.session_id for h in library} == {session.id} and all(h.end > music[0].start for h in library)
    assert store.search("country", event="singing") == []
    with pytest.raises(InvalidArgumentError):
        store.search("country", event="jazz")


def test_search_event_filter_in_both_skins_and_the_cli(engine, over_music, capsys):
    """Catches the event filter missing from a skin or the CLI: search_audio and search_library in LangChain and
    MCP, and ``search --event``, keep only passages over music; an unknown kind is refused everywhere."""
    from langchain_aero import AudioToolkit
    from mcp import Client
    from mcp_driver import drive

    from aero_mcp import ServerConfig, create_server

    session, lo = over_music["session"], over_music["music_from"]
    root = over_music["folder"] / "skins-store"
    shutil.copytree(over_music["folder"] / "store", root, dirs_exist_ok=True)
    sid = session.id
    tools = {t.name: t for t in AudioToolkit(store=SessionStore(root, engine),
                                             allowed_dirs=[over_music["path"].parent]).get_tools()}

    def call(name: str, **args: Any) -> Any:
        return tools[name].invoke({"type": "tool_call", "id": "c", "name": name, "args": args})

    for name, args in (("search_audio", {"session_id": sid}), ("search_library", {})):
        found = call(name, query="country", k=10, event="music", **args)
        assert found.status == "success" and found.artifact["hits"], name
        assert all(h["end"] > lo - 1.0 for h in found.artifact["hits"]), name
        refused = call(name, query="country", event="jazz", **args)
        assert refused.status == "error" and "Error" in refused.content, name

    assert cli.main(["search", "country", "--store", str(root), "-k", "10", "--event", "music", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits and all(h["end"] > lo - 1.0 for h in hits)
    with pytest.raises(SystemExit):
        cli.main(["search", "country", "--store", str(root), "--event", "jazz"])
    capsys.readouterr()

    server = create_server(ServerConfig(allow_dirs=[over_music["path"].parent], store_dir=root), engine=engine)

    async def script(client: Client) -> None:
        for name, args in (("search_audio", {"session_id": sid}), ("search_library", {})):
            got = await client.call_tool(name, {"query": "country", "k": 10, "event": "music", **args})
            assert not got.is_error and got.structured_content["hits"], name
            assert all(h["end"] > lo - 1.0 for h in got.structured_content["hits"]), name
            assert (await client.call_tool(name, {"query": "country", "event": "jazz", **args})).is_error, name

    drive(server, script)
