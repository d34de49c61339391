"""README claim: a video file works in place of audio (its audio stream is decoded, the picture ignored)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aero_agent.audio import load_audio
from aero_agent.data import EXAMPLE_TEXT, example_path
from aero_agent.evaluation import word_error_rate


def _write_mp4(samples: np.ndarray, path: Path, rate: int = 16_000) -> None:
    """An MP4 with a small MPEG-4 (part 2) picture stream first and an AAC stream of ``samples`` after it."""
    import av

    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = out.add_stream("aac", rate=rate)
        audio.layout = "mono"
        for i in range(int(len(samples) / rate * 10)):
            picture = np.full((48, 64, 3), (i * 7) % 255, dtype=np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                out.mux(packet)
        frame = av.AudioFrame.from_ndarray((samples * 32767).astype(np.int16)[None, :], format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in audio.encode(frame):
            out.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                out.mux(packet)


def test_mp4_video_is_transcribed_from_its_audio_stream(engine, tmp_path: Path) -> None:
    """Catches a video container refused, or its picture stream taken for the audio."""
    speech = load_audio(example_path("jfk")).samples
    path = tmp_path / "talk.mp4"
    _write_mp4(speech, path)
    clip = load_audio(path)
    assert abs(clip.duration_s - 11.0) < 0.2 and clip.sample_rate == 16_000
    text = engine.encode(clip).transcript.text
    assert word_error_rate([EXAMPLE_TEXT["jfk"]], [text]).wer <= 0.05
