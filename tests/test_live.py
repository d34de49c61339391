"""Live sessions: real speech fed in odd-sized chunks, LocalAgreement-2 commits, persistence, CLI, bad input."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from aero_agent.audio import load_audio
from aero_agent.errors import (AudioTooLargeError, CorruptAudioError, InvalidArgumentError, InvalidSamplesError,
                               SessionBusyError, SessionClosedError)
from aero_agent.evaluation import join_clips, speech_clips, word_error_rate
from aero_agent.live import HypothesisBuffer, LiveOptions, decode_chunk
from aero_agent.session import AudioSession
from aero_agent.store import SessionStore
from aero_agent.transcript import Word

from speech_data import REPO, SPEECH_DIR

JFK = REPO / "aero_agent" / "data" / "jfk_inaugural_1961.wav"
# a short trim length, so that a half-minute stream is cut and re-based several times
TEST_OPTIONS = LiveOptions(step_s=1.5, trim_s=6.0)


def odd_chunks(samples: np.ndarray, seed: int = 7) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out, i = [], 0
    while i < len(samples):
        n = int(rng.integers(111, 9001))
        out.append(samples[i:i + n])
        i += n
    return out


def as_int16(samples: np.ndarray) -> np.ndarray:
    return np.clip(samples * 32767, -32768, 32767).astype(np.int16)


@pytest.fixture(scope="module")
def joined():
    """About 30 s of real read speech (the first clips of ../shared/speech, joined with short pauses)."""
    if not (SPEECH_DIR / "manifest.jsonl").exists():
        pytest.skip(f"{SPEECH_DIR} is not present")
    return join_clips(speech_clips(SPEECH_DIR, min_words=4)[:5], min_duration_s=25.0)


@pytest.fixture(scope="module")
def streamed(engine, joined):
    """The joined speech fed into a live session in odd-sized int16 chunks, then finished."""
    session = AudioSession.live(engine, TEST_OPTIONS)
    finals = []
    for chunk in odd_chunks(as_int16(joined.samples)):
        finals += session.feed(chunk).final
    before_finish = session.transcribe()
    return session, finals, before_finish, session.finish()


def test_stream_final_text_close_to_offline(engine, joined, streamed) -> None:
    """Mutation caught: committing words before two decodes agree, dropping the committed-tail overlap check,
    or losing words at a trim (duplicated or missing words push the live WER past the offline WER)."""
    session, _, _, final = streamed
    offline = engine.transcribe_clips([load_audio(joined.samples, sample_rate=16_000)])[0]
    live_wer = word_error_rate([joined.reference], [final.text]).wer
    offline_wer = word_error_rate([joined.reference], [offline.text]).wer
    assert live_wer <= offline_wer + 0.06, (live_wer, offline_wer, final.text)
    assert session.info.status == "ready" and final.complete and not final.partial
    assert session.live.processor.offset > 0, "the buffer was never trimmed"


def test_stream_times_monotone_and_in_stream_time(joined, streamed) -> None:
    """Mutation caught: word times left in buffer time after a trim (not shifted by the buffer offset), or
    final segments emitted out of order."""
    _, finals, _, final = streamed
    words = [w for s in final.segments for w in s.words or []]
    assert len(words) > 40
    starts = [w.start for w in words]
    assert all(b >= a - 0.05 for a, b in zip(starts, starts[1:])), starts
    assert all(0 <= w.start <= w.end <= joined.duration_s + 0.05 for w in words)
    assert words[-1].end > joined.duration_s - 5.0  # the last words sit at the end of the stream, not its start
    assert [s.text for s in finals] == [s.text for s in final.segments[:len(finals)]]  # final never changes


def test_live_transcript_marks_partial_tail_and_searches_final_only(streamed) -> None:
    """Mutation caught: partial words mixed into the final segments (or complete=True while live)."""
    _, finals, before_finish, _ = streamed
    assert before_finish.complete is False
    assert [s.text for s in before_finish.segments] == [s.text for s in finals]
    assert before_finish.partial or finals  # something was heard
    final_words = {id(w) for s in before_finish.segments for w in s.words or []}
    assert not any(id(w) in final_words for s in before_finish.partial for w in s.words or [])


def words(text: str, t0: float = 0.0) -> list[Word]:
    """Words of ``text`` half a second apart from ``t0``, each 0.4 s long."""
    return [Word(start=t0 + i * 0.5, end=t0 + i * 0.5 + 0.4, word=" " + w) for i, w in enumerate(text.split())]


def test_hypothesis_buffer_local_agreement() -> None:
    """Mutation caught: committing the newest hypothesis instead of the prefix two decodes share, or
    re-committing the committed tail a re-decoded buffer repeats."""
    buf = HypothesisBuffer()
    assert buf.insert(words("the cat sat", 0.0)) == []
    assert [w.word for w in buf.insert(words("the cat sad on", 0.0))] == [" the", " cat"]
    assert [w.word for w in buf.insert(words("sat on the mat", 1.0))] == []  # "sat" vs "sad on": no agreement
    assert [w.word for w in buf.insert(words("cat sat on the mat", 0.85))] == [" sat", " on", " the", " mat"]
    assert [w.word.strip() for w in buf.committed] == ["the", "cat", "sat", "on", "the", "mat"]


def test_hypothesis_buffer_time_anchored_commit() -> None:
    """Mutation caught: anchoring on one word (a lone "the" at the same time), on words at other times, or
    keeping the older decode's version of the changed word."""
    buf = HypothesisBuffer()
    buf.insert(words("a cat sat on the mat today"))
    assert [w.word.strip() for w in buf.insert(words("the cat sat on the mat"), anchor_s=0.2)] == \
        ["the", "cat", "sat", "on", "the", "mat"]  # up to "the mat" at the same times; the changed word: the new one
    buf = HypothesisBuffer()
    buf.insert(words("a dog ran"))
    assert buf.insert(words("the dog ran", 0.3), anchor_s=0.2) == []  # the same words 0.3 s later
    buf = HypothesisBuffer()
    buf.insert(words("a dog the mat"))
    assert buf.insert(words("one cat the bat"), anchor_s=0.2) == []  # "the" alone is no anchor

def test_crash_keeps_final_segments_and_live_is_never_evicted(engine, tmp_path: Path) -> None:
    """Mutation caught: final segments not saved as they come (a reopened store after a crash would have no
    text), or eviction dropping a live session (its buffer would be lost)."""
    store = SessionStore(tmp_path, engine, max_loaded=1)
    session = store.open_live(options=TEST_OPTIONS)
    for chunk in odd_chunks(load_audio(JFK).samples, seed=3):
        session.feed(chunk)
    said = [s.text for s in session.transcribe().segments]
    assert said, "nothing became final in 11 s of speech"
    store.open(JFK)  # a second, ready session over max_loaded=1
    assert session.id in store.loaded_ids()
    reopened = SessionStore(tmp_path, engine)  # as after a crash: the live session was never finished
    assert session.id in reopened.interrupted
    info = reopened.status(session.id)
    assert info.status == "ready" and info.interrupted
    recovered = reopened.get(session.id).transcribe()
    assert [s.text for s in recovered.segments] == said
    assert reopened.get(session.id).search("country", 1) or "country" not in " ".join(said).lower()


def test_bad_input_typed_errors_keep_final_text(engine) -> None:
    """Mutation caught: a bad chunk (NaN, wrong dtype or shape, oversized, odd bytes, wrong WAV rate) reaching
    the buffer or the store, a finished session taking audio, or two writers feeding at once."""
    session = AudioSession.live(engine, TEST_OPTIONS)
    samples = load_audio(JFK).samples
    for chunk in odd_chunks(samples[: 8 * 16_000]):
        session.feed(chunk)
    kept = session.transcribe()
    nan = samples[:1600].copy()
    nan[5] = np.nan
    with pytest.raises(InvalidSamplesError):
        session.feed(nan)
    with pytest.raises(InvalidSamplesError):
        session.feed(np.zeros(1600, dtype=np.int32))
    with pytest.raises(InvalidSamplesError):
        session.feed(np.zeros((1600, 2), dtype=np.float32))
    with pytest.raises(AudioTooLargeError):
        session.feed(np.zeros(61 * 16_000, dtype=np.int16))
    with pytest.raises(InvalidSamplesError):
        decode_chunk(b"\x00\x01\x02", "s16le")
    wav8k = io.BytesIO()
    sf.write(wav8k, np.zeros(800, dtype=np.float32), 8000, format="WAV")
    with pytest.raises(InvalidSamplesError):
        decode_chunk(wav8k.getvalue(), "wav")
    with pytest.raises(CorruptAudioError):
        decode_chunk(b"RIFFnonsense", "wav")
    with pytest.raises(InvalidSamplesError):
        decode_chunk(b"\x00\x00", "mp3")
    assert session.transcribe().segments == kept.segments
    assert session.info.duration_s == kept.duration_s  # no bad sample was appended

    entered, release = threading.Event(), threading.Event()
    real_feed = session.live.processor.feed

    def slow_feed(chunk):
        entered.set()
        release.wait(30)
        return real_feed(chunk)
    session.live.processor.feed = slow_feed
    writer = threading.Thread(target=session.feed, args=(samples[:1600],))
    writer.start()
    assert entered.wait(30)
    with pytest.raises(SessionBusyError):
        session.feed(samples[1600:3200])
    release.set()
    writer.join()
    session.live.processor.feed = real_feed

    final = session.finish()
    with pytest.raises(SessionClosedError):
        session.feed(samples[:1600])
    assert final.text.startswith(kept.text) and session.finish().text == final.text


@pytest.mark.parametrize("flag, value", [("--step", "0"), ("--window", "-5"), ("--pause", "nan"), ("--anchor", "-0.1"),
                                         ("--step", "fast")])
def test_cli_listen_refuses_bad_timing_flags(flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Mutation caught: a zero step (a decode per sample), a negative window or anchor, or a NaN pause reaching
    the live processor instead of a usage error before any model loads."""
    from aero_agent import cli

    with pytest.raises(SystemExit) as stop:
        cli.main(["listen", "-", flag, value])
    assert stop.value.code == 2
    assert flag in capsys.readouterr().err


def test_cli_listen_stdin_jsonl(tmp_path: Path) -> None:
    """Mutation caught: `listen -` not flushing the last words at end of input, an odd trailing byte
    crashing the reader, or --store not keeping the finished session."""
    audio = as_int16(load_audio(JFK).samples).astype("<i2").tobytes() + b"\x07"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tools"), str(REPO / "mcp_server")])}
    done = subprocess.run([sys.executable, "-m", "aero_agent", "listen", "-", "--format", "jsonl",
                           "--store", str(tmp_path)], input=audio, capture_output=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr.decode()
    rows = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert rows and all(r["final"] is True and {"start", "end", "text"} <= set(r) for r in rows)
    assert all(b["start"] >= a["start"] for a, b in zip(rows, rows[1:]))
    text = " ".join(r["text"] for r in rows)
    assert word_error_rate(["and so my fellow americans ask not what your country can do for you ask what you "
                            "can do for your country"], [text]).wer <= 0.15, text
    assert "half a sample" in done.stderr.decode()
    (kept,) = SessionStore(tmp_path).list()
    assert kept.status == "ready" and not kept.interrupted


def _b64_chunks(seconds: float = 2.7) -> list[str]:
    import base64

    data = as_int16(load_audio(JFK).samples).astype("<i2").tobytes()
    step = int(seconds * 16_000) * 2
    return [base64.b64encode(data[i:i + step]).decode() for i in range(0, len(data), step)]


def test_mcp_append_audio_in_process(engine, tmp_path: Path) -> None:
    """Mutation caught: append_audio not feeding the session (no final text), a bad chunk ending the stream
    or losing its text, transcribe_audio failing on a live session, or finish_live_session not finalising."""
    import anyio
    import base64

    from mcp import Client

    sys.path.insert(0, str(REPO / "mcp_server"))
    from aero_mcp import ServerConfig, create_server

    audio = tmp_path / "audio"
    audio.mkdir()
    server = create_server(ServerConfig(allow_dirs=[audio], store_dir=tmp_path / "store"), engine=engine)

    async def script(client: Client) -> tuple[str, str, str]:
        started = await client.call_tool("start_live_session", {})
        sid = started.structured_content["session_id"]
        assert started.structured_content["status"] == "live"
        for chunk in _b64_chunks():
            appended = await client.call_tool("append_audio", {"session_id": sid, "audio_base64": chunk})
            assert not appended.is_error, appended.content
        odd = await client.call_tool("append_audio", {"session_id": sid,
                                                      "audio_base64": base64.b64encode(b"\x01\x02\x03").decode()})
        assert odd.is_error and "16-bit" in odd.content[0].text
        middle = await client.call_tool("transcribe_audio", {"session_id": sid})
        assert middle.structured_content["complete"] is False
        finished = await client.call_tool("finish_live_session", {"session_id": sid})
        after = await client.call_tool("append_audio", {"session_id": sid, "audio_base64": _b64_chunks()[0]})
        assert after.is_error and "finished" in after.content[0].text
        whole = await client.call_tool("transcribe_audio", {"session_id": sid})
        return middle.structured_content["text"], finished.structured_content["status"], \
            whole.structured_content["text"]

    async def main():
        async with Client(server) as client:
            return await script(client)
    try:
        middle, status, whole = anyio.run(main)
    finally:
        server.backend.close(grace_s=60)
    assert status == "ready"
    assert whole.startswith(middle.split(".")[0][:10])
    assert word_error_rate(["and so my fellow americans ask not what your country can do for you ask what you "
                            "can do for your country"], [whole]).wer <= 0.15, whole


def test_langchain_live_tools(engine) -> None:
    """Mutation caught: the LangChain live tools diverging from the MCP ones (no final text, a bad chunk
    raising instead of coming back as an error message, finish not making the session ready)."""
    from langchain_aero import AudioToolkit

    kit = AudioToolkit(engine=engine)
    tools = {t.name: t for t in kit.get_tools()}

    def call(name: str, **args):
        return tools[name].invoke({"type": "tool_call", "id": f"call-{name}", "name": name, "args": args})
    sid = call("start_live_session").artifact["session_id"]
    for chunk in _b64_chunks(4.1):
        assert call("append_audio", session_id=sid, audio_base64=chunk).status == "success"
    bad = call("append_audio", session_id=sid, audio_base64="not base64!")
    assert bad.status == "error" and "base64" in bad.content
    done = call("finish_live_session", session_id=sid)
    assert done.status == "success" and done.artifact["status"] == "ready"
    assert "country" in done.artifact["text"].lower()
    kit.store.shutdown()


def test_pause_finalises_without_waiting_for_a_step(engine, joined) -> None:
    """Mutation caught: a pause finalised only at the next step, or only once a second decode agrees (with a
    60 s step nothing would be final before finish)."""
    first = speech_clips(SPEECH_DIR, min_words=4)[0]
    speech = load_audio(first.path).samples
    stream = np.concatenate([speech, np.zeros(int(0.8 * 16_000), dtype=np.float32)])
    session = AudioSession.live(engine, LiveOptions(step_s=60.0, max_step_s=60.0, pause_s=0.5))
    final_at: list[float] = []
    for lo in range(0, len(stream), 1600):  # 100 ms chunks, as a microphone sends them
        if session.feed(stream[lo:lo + 1600]).final:
            final_at.append((lo + 1600) / 16_000)
    heard = session.transcribe()
    assert final_at and final_at[0] <= len(speech) / 16_000 + 0.8, final_at
    assert word_error_rate([first.text], [" ".join(s.text for s in heard.segments)]).wer < 0.35, heard.segments
    assert not heard.partial and session.live_stats.decodes <= 3


def test_step_widens_and_reports_lagging_when_decoding_is_slower(engine) -> None:
    """Mutation caught: a fixed step (a 50 ms step would queue a decode for every chunk, about 60 here), or
    the lag not reported on the status stream."""
    from aero_agent.cli.listen import Printer, listen

    samples = load_audio(JFK).samples[: 3 * 16_000]
    session = AudioSession.live(engine, LiveOptions(step_s=0.05, max_step_s=2.0))
    chunks = (samples[lo:lo + 800] for lo in range(0, len(samples), 800))
    status = io.StringIO()
    listen(session, chunks, Printer(io.StringIO(), "jsonl"), status=status)
    stats = session.live_stats
    assert "decoding is behind" in status.getvalue(), status.getvalue()
    assert stats.step_s > 0.05 and stats.decodes < 20, stats


def test_short_encoder_window_sizes() -> None:
    """Mutation caught: a window without padding after the speech (Whisper then repeats or drops its end), one
    not a whole encoder frame, or the 30 s window given up when no minimum is asked for."""
    from aero_agent.engines.whisper.encoder import ENCODER_STRIDE, window_samples

    assert window_samples([np.zeros(16_000)], None) == 480_000
    assert window_samples([np.zeros(16_000)], 10.0) == 160_000
    n = window_samples([np.zeros(9 * 16_000 + 7)], 10.0)
    assert n % ENCODER_STRIDE == 0 and n >= 10 * 16_000 + 7  # at least a second of padding after the speech
    assert window_samples([np.zeros(29 * 16_000)], 10.0) == 480_000


def test_stream_vad_matches_whole_recording_and_decode_reuses_it(engine) -> None:
    """Mutation caught: new frames decided without warming up on the audio before them (other speech
    decisions than on the whole recording), a decode's VAD not given the stream's probabilities (the whole buffer
    run again), or the buffer's last part-frame left out."""
    from aero_agent.live import BufferVad
    from aero_agent.vad import FRAME

    samples = load_audio(JFK).samples[: 6 * 16_000 + 100]
    whole = engine.vad.probabilities(samples)
    tail = engine.vad.probabilities(samples, start_frame=80)
    threshold = LiveOptions().vad.threshold
    assert len(tail) == len(whole) - 80
    assert ((tail >= threshold) == (whole[80:] >= threshold)).mean() > 0.97  # the same speech, frame by frame

    vad = BufferVad(engine.vad)
    known = np.full(len(samples) // FRAME - 2, 0.25, dtype=np.float32)  # a marker the model never gives
    vad.known = (samples, known)
    got = vad.probabilities(samples)
    assert len(got) == len(whole) and (got[:len(known)] == 0.25).all()
    assert len(got) - len(known) == 3  # two whole frames and the part-frame, from the model
    assert not (vad.probabilities(samples.copy()) == 0.25).any()  # another array: the model's own figures


class _NoWordsEngine:
    """An engine whose VAD hears speech everywhere and whose decodes never hold a word."""

    class vad:
        @staticmethod
        def probabilities(samples: np.ndarray, block_rows: int = 64, start_frame: int = 0) -> np.ndarray:
            from aero_agent.vad import FRAME

            return np.ones(max(0, len(samples) // FRAME - start_frame), dtype=np.float32)

    def transcribe_clips(self, clips):
        from aero_agent.transcript import Transcript

        return [Transcript(segments=[], events=[], duration_s=c.duration_s) for c in clips]


def test_buffer_stays_bounded_when_decodes_never_hold_words() -> None:
    """Mutation caught: a buffer past ``max_buffer_s`` cut at the last committed word (the stream's start, or
    ``context_s`` before it) when nothing was ever committed: it would grow with every second of audio."""
    from aero_agent.live import OnlineProcessor

    processor = OnlineProcessor(_NoWordsEngine(), LiveOptions(max_buffer_s=10.0, trim_s=4.0))
    noise = np.random.default_rng(0).normal(0, 0.1, 16_000).astype(np.float32)
    longest = 0
    for _ in range(40):
        processor.feed(noise)
        longest = max(longest, len(processor.buffer))
    assert processor.stats.decodes > 20 and longest <= 11 * 16_000, (processor.stats, longest / 16_000)


def _paced_stream(engine, options: LiveOptions, slowdown: float):
    """JFK's 11 s through a live processor in 100 ms chunks, its decodes timed on a clock that counts the CPU time
    they take ``slowdown`` times (a CPU that decodes that many times slower or faster; the decoding is real)."""
    import time

    from aero_agent.live import OnlineProcessor

    proc = OnlineProcessor(engine, options)
    proc.clock = lambda: time.process_time() * slowdown
    samples = load_audio(JFK).samples
    for lo in range(0, len(samples), 1600):
        proc.feed(samples[lo:lo + 1600])
    proc.finish()
    return proc.stats


def test_the_base_step_widens_on_a_slow_decoder_and_stays_on_a_fast_one(engine) -> None:
    """Mutation caught: a base step that ignores the measured decode time (a slow CPU then decodes back to back),
    or one that widens where decodes are fast. Decodes measured 4x slower than this CPU's (about 2 s against the
    1 s step) widen the base step to mean / ``decode_share`` and decode less often; measured 4x faster they keep
    ``step_s``; with ``decode_share`` None the slow decoder keeps it too (the widening is the rule's)."""
    options = LiveOptions()
    fast = _paced_stream(engine, options, 0.25)
    slow = _paced_stream(engine, options, 4.0)
    fixed = _paced_stream(engine, replace(options, decode_share=None), 4.0)
    assert fast.base_step_s == options.step_s and fast.decode_mean_s < 0.75 * options.step_s, fast
    assert slow.base_step_s > options.step_s, slow
    assert slow.base_step_s == min(options.max_step_s, round(slow.decode_mean_s / options.decode_share, 2)), slow
    assert slow.decodes < fast.decodes, (slow, fast)
    assert fixed.base_step_s == options.step_s, fixed


def test_decode_share_is_a_fraction_of_the_step() -> None:
    """Mutation caught: a share of 0 (a step without bound) or above 1 (decodes longer than the step) accepted."""
    for bad in (0, -0.5, 1.5, float("nan"), True):
        with pytest.raises(InvalidArgumentError):
            LiveOptions(decode_share=bad)
    assert LiveOptions(decode_share=None).decode_share is None
