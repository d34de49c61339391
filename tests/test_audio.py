"""Audio input: formats, resampling, and a typed error for every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from aero_agent.audio import TARGET_RATE, load_audio
from aero_agent.errors import (
    AudioError,
    AudioNotFoundError,
    AudioTooLargeError,
    AudioTooLongError,
    CorruptAudioError,
    EmptyAudioError,
    InvalidSamplesError,
    NotAFileError,
    SilentAudioError,
    UnsupportedFormatError,
)


@pytest.fixture(scope="module")
def speech(example_wav: Path) -> np.ndarray:
    data, rate = sf.read(example_wav, dtype="float32")
    assert rate == TARGET_RATE
    return data


def _encode_with_av(samples: np.ndarray, path: Path, container: str, codec: str, rate: int) -> None:
    import av

    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray((samples * 32767).astype(np.int16)[None, :], format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def test_wav_is_returned_as_is(example_wav: Path, speech: np.ndarray) -> None:
    clip = load_audio(example_wav)
    assert clip.sample_rate == 16000 and clip.samples.dtype == np.float32
    assert clip.source == str(example_wav) and clip.original_channels == 1
    np.testing.assert_allclose(clip.samples, speech)
    assert clip.duration_s == pytest.approx(11.0, abs=0.01)


@pytest.mark.parametrize("fmt,subtype,suffix", [("FLAC", "PCM_16", ".flac"), ("OGG", "VORBIS", ".ogg"),
                                                 ("MP3", "MPEG_LAYER_III", ".mp3")])
def test_soundfile_formats(tmp_path: Path, speech: np.ndarray, fmt: str, subtype: str, suffix: str) -> None:
    path = tmp_path / f"clip{suffix}"
    sf.write(path, speech, TARGET_RATE, format=fmt, subtype=subtype)
    clip = load_audio(path)
    assert clip.duration_s == pytest.approx(11.0, abs=0.1)
    if fmt == "FLAC":  # lossless: the same samples up to 16-bit quantisation
        assert np.abs(clip.samples - speech).max() < 1e-3


@pytest.mark.parametrize("container,codec,suffix,rate", [("mp4", "aac", ".m4a", 44100), ("webm", "libopus", ".webm", 48000),
                                                          ("ogg", "libopus", ".opus", 48000)])
def test_container_formats_through_pyav(tmp_path: Path, speech: np.ndarray, container: str, codec: str,
                                        suffix: str, rate: int) -> None:
    import soxr

    path = tmp_path / f"clip{suffix}"
    _encode_with_av(soxr.resample(speech, TARGET_RATE, rate), path, container, codec, rate)
    clip = load_audio(path)
    assert clip.original_sample_rate == rate
    assert clip.duration_s == pytest.approx(11.0, abs=0.15)
    assert clip.samples.dtype == np.float32 and clip.sample_rate == TARGET_RATE


def test_bytes_and_arrays(example_wav: Path, speech: np.ndarray) -> None:
    from_bytes = load_audio(example_wav.read_bytes(), name="jfk.wav")
    np.testing.assert_allclose(from_bytes.samples, speech)
    ints = (speech * 32767).astype(np.int16)
    from_ints = load_audio(ints, sample_rate=16000)
    assert np.abs(from_ints.samples - speech).max() < 1e-3
    channels_first = np.stack([speech, speech])
    assert load_audio(channels_first, sample_rate=16000).duration_s == pytest.approx(11.0)


def test_8khz_stereo_is_downmixed_and_resampled(tmp_path: Path, speech: np.ndarray) -> None:
    import soxr

    low = soxr.resample(speech, 16000, 8000)
    path = tmp_path / "phone.wav"
    sf.write(path, np.stack([low, 0.5 * low], axis=1), 8000)
    clip = load_audio(path)
    assert clip.original_sample_rate == 8000 and clip.original_channels == 2
    assert clip.duration_s == pytest.approx(11.0, abs=0.01)
    assert np.corrcoef(clip.samples, speech[: len(clip.samples)])[0, 1] > 0.9  # a real resampler keeps the signal


def test_block_decoding_equals_whole_decoding(tmp_path: Path, speech: np.ndarray) -> None:
    """Blocks mixed down and resampled in a stream give the very samples of the whole signal at once."""
    import soxr

    from aero_agent.audio import BLOCK_FRAMES

    wide = soxr.resample(np.tile(speech, 2), 16000, 44100)
    stereo = np.stack([wide, 0.5 * wide[::-1]], axis=1).astype(np.float32)
    assert len(stereo) > 2 * BLOCK_FRAMES
    path = tmp_path / "stereo44.wav"
    sf.write(path, stereo, 44100, subtype="FLOAT")
    whole = soxr.resample(stereo.mean(axis=1, dtype=np.float32), 44100, TARGET_RATE, quality="HQ")
    clip = load_audio(path)
    assert clip.original_channels == 2 and clip.original_sample_rate == 44100
    assert np.array_equal(clip.samples, whole.astype(np.float32))
    assert np.array_equal(load_audio(stereo, sample_rate=44100).samples, clip.samples)


def test_48khz_is_resampled(tmp_path: Path, speech: np.ndarray) -> None:
    import soxr

    path = tmp_path / "studio.wav"
    sf.write(path, soxr.resample(speech, 16000, 48000), 48000, subtype="FLOAT")
    clip = load_audio(path)
    assert clip.original_sample_rate == 48000 and len(clip.samples) == pytest.approx(len(speech), abs=2)
    assert np.corrcoef(clip.samples, speech[: len(clip.samples)])[0, 1] > 0.99


def test_truncated_wav(tmp_path: Path, example_wav: Path) -> None:
    path = tmp_path / "cut.wav"
    path.write_bytes(example_wav.read_bytes()[: 44 + 5000])
    with pytest.raises(CorruptAudioError, match="truncated") as info:
        load_audio(path)
    assert str(path) in str(info.value)


def test_random_bytes_named_wav(tmp_path: Path) -> None:
    path = tmp_path / "noise.wav"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(CorruptAudioError, match=str(path)):
        load_audio(path)


def test_text_file_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("this is not audio\n" * 50)
    with pytest.raises(UnsupportedFormatError):
        load_audio(path)


def test_zero_samples(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(EmptyAudioError):
        load_audio(path)
    with pytest.raises(EmptyAudioError):
        load_audio(np.zeros(0, dtype=np.float32), sample_rate=16000)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "zero.wav"
    path.write_bytes(b"")
    with pytest.raises(EmptyAudioError, match="0 bytes"):
        load_audio(path)


def test_one_sample_file(tmp_path: Path) -> None:
    path = tmp_path / "one.wav"
    sf.write(path, np.array([0.5], dtype=np.float32), 16000)
    with pytest.raises(EmptyAudioError, match="too short"):
        load_audio(path)


def test_nan_samples(tmp_path: Path, speech: np.ndarray) -> None:
    bad = speech.copy()
    bad[100] = np.nan
    with pytest.raises(InvalidSamplesError, match="NaN"):
        load_audio(bad, sample_rate=16000)
    path = tmp_path / "nan.wav"
    sf.write(path, bad, 16000, subtype="FLOAT")
    with pytest.raises(InvalidSamplesError):
        load_audio(path)


def test_silence_only(tmp_path: Path) -> None:
    with pytest.raises(SilentAudioError):
        load_audio(np.zeros(16000 * 3, dtype=np.float32), sample_rate=16000)


def test_directory_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotAFileError):
        load_audio(tmp_path)
    with pytest.raises(AudioNotFoundError, match="no such file"):
        load_audio(tmp_path / "missing.wav")


def test_caps(example_wav: Path) -> None:
    with pytest.raises(AudioTooLongError):
        load_audio(example_wav, max_duration_s=5)
    with pytest.raises(AudioTooLargeError):
        load_audio(example_wav, max_bytes=1000)


def test_array_without_rate_and_wrong_type() -> None:
    with pytest.raises(InvalidSamplesError, match="sample_rate"):
        load_audio(np.ones(16000, dtype=np.float32))
    with pytest.raises(AudioError):
        load_audio(12345)  # type: ignore[arg-type]


def test_bytes_stream_of_garbage_has_no_format() -> None:
    with pytest.raises(UnsupportedFormatError):
        load_audio(b"\x00\x01" * 500)


def test_a_decoded_clip_is_taken_as_it_is():
    """Catches: a clip decoded already (the CLI decodes before it loads a model) decoded again by
    AudioSession.open, or refused as an unknown source."""
    tone = (0.1 * np.sin(2 * np.pi * 440 * np.arange(TARGET_RATE) / TARGET_RATE)).astype(np.float32)
    clip = load_audio(tone, sample_rate=TARGET_RATE, name="tone")
    assert load_audio(clip) is clip
