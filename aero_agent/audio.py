"""Audio input: any path, bytes or array in; mono float32 at 16 kHz out, with typed errors."""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
import soundfile as sf
import soxr

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

TARGET_RATE = 16_000
DEFAULT_MAX_DURATION_S = 4 * 3600.0
MIN_DURATION_S = 0.1
SILENCE_PEAK = 1e-4  # -80 dBFS: anything quieter everywhere is treated as silence

AUDIO_EXTENSIONS = {
    ".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3", ".m4a", ".mp4", ".aac", ".webm", ".opus",
    ".mka", ".mkv", ".mov", ".wma", ".aif", ".aiff", ".au", ".caf", ".3gp", ".amr",
}
_MAGIC = (b"RIFF", b"RIFX", b"RF64", b"fLaC", b"OggS", b"ID3", b"FORM", b"\x1aE\xdf\xa3", b".snd")

AudioSource = Union[str, os.PathLike, bytes, bytearray, np.ndarray]


@dataclass
class AudioClip:
    """Decoded audio: mono float32 samples at 16 kHz and where they came from."""

    samples: np.ndarray
    source: str
    original_sample_rate: int
    original_channels: int
    sample_rate: int = TARGET_RATE

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate

    def slice(self, start_s: float, end_s: float) -> "AudioClip":
        """The part of the clip between two times, in seconds."""
        lo, hi = int(start_s * self.sample_rate), int(end_s * self.sample_rate)
        return AudioClip(self.samples[lo:hi], self.source, self.original_sample_rate, self.original_channels)


def load_audio(
    source: AudioSource,
    sample_rate: int | None = None,
    max_duration_s: float = DEFAULT_MAX_DURATION_S,
    max_bytes: int | None = None,
    name: str | None = None,
) -> AudioClip:
    """Decode ``source`` (a path, encoded bytes, or a sample array with ``sample_rate``).

    Raises a subclass of :class:`~aero_agent.errors.AudioError` naming the source and the reason.
    """
    if isinstance(source, np.ndarray):
        label = name or f"<array {source.shape} {source.dtype}>"
        if sample_rate is None:
            raise InvalidSamplesError(label, "a sample array needs its sample_rate")
        data, rate = _array_to_frames(source, label), int(sample_rate)
    elif isinstance(source, (bytes, bytearray)):
        label = name or f"<{len(source)} bytes>"
        if max_bytes is not None and len(source) > max_bytes:
            raise AudioTooLargeError(label, f"{len(source)} bytes is over the {max_bytes}-byte cap")
        data, rate = _decode(bytes(source), label, suffix=Path(name).suffix.lower() if name else "",
                             max_duration_s=max_duration_s)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        label = name or str(path)
        _check_path(path, label, max_bytes)
        data, rate = _decode(path.read_bytes(), label, suffix=path.suffix.lower(), max_duration_s=max_duration_s)
    else:
        raise UnsupportedFormatError(repr(type(source)), "expected a path, bytes or a numpy array")
    return _finish(data, rate, label, max_duration_s)


def _check_path(path: Path, label: str, max_bytes: int | None) -> None:
    if not path.exists():
        raise AudioNotFoundError(label, "no such file")
    if not path.is_file():
        raise NotAFileError(label, "not a regular file (a directory or device)")
    size = path.stat().st_size
    if size == 0:
        raise EmptyAudioError(label, "the file is empty (0 bytes)")
    if max_bytes is not None and size > max_bytes:
        raise AudioTooLargeError(label, f"{size} bytes is over the {max_bytes}-byte cap")


def _array_to_frames(array: np.ndarray, label: str) -> np.ndarray:
    """Accept (n,), (n, channels) or (channels, n) arrays of floats or ints; return (n, channels) float32."""
    if array.ndim == 1:
        array = array[:, None]
    elif array.ndim == 2:
        if array.shape[0] <= 8 and array.shape[1] > array.shape[0]:
            array = array.T
    else:
        raise InvalidSamplesError(label, f"expected 1 or 2 dimensions, got shape {array.shape}")
    if np.issubdtype(array.dtype, np.integer):
        scale = float(np.iinfo(array.dtype).max) + 1.0
        return (array.astype(np.float64) / scale).astype(np.float32)
    if not np.issubdtype(array.dtype, np.floating):
        raise InvalidSamplesError(label, f"unsupported sample type {array.dtype}")
    return array.astype(np.float32, copy=False)


def _looks_like_audio(data: bytes, suffix: str) -> bool:
    head = data[:12]
    return suffix in AUDIO_EXTENSIONS or head.startswith(_MAGIC) or head[4:8] == b"ftyp" or head[:2] == b"\xff\xfb"


def _wav_truncation(data: bytes) -> str | None:
    """For RIFF/WAVE data, the reason it is truncated, or None when the data chunk is whole."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if chunk_id == b"data":
            available = len(data) - pos - 8
            if size not in (0, 0xFFFFFFFF, 0x7FFFFFFF) and size > available:
                return f"truncated: the header declares {size} bytes of samples, the file holds {available}"
            return None
        pos += 8 + size + (size & 1)
    return "truncated: no data chunk after the header"


def _decode(data: bytes, label: str, suffix: str, max_duration_s: float) -> tuple[np.ndarray, int]:
    if not data:
        raise EmptyAudioError(label, "no data (0 bytes)")
    truncated = _wav_truncation(data)
    if truncated:
        raise CorruptAudioError(label, truncated)
    try:
        info = sf.info(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        info = None
    if info is not None:
        if info.frames > 0 and info.samplerate > 0 and info.frames / info.samplerate > max_duration_s:
            raise AudioTooLongError(label, f"{info.frames / info.samplerate:.1f} s is over the {max_duration_s:g} s cap")
        try:
            frames, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
            return frames, int(rate)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise CorruptAudioError(label, f"corrupt {info.format} data: {exc}") from exc
    return _decode_with_av(data, label, suffix, max_duration_s)


def _decode_with_av(data: bytes, label: str, suffix: str, max_duration_s: float) -> tuple[np.ndarray, int]:
    import av  # PyAV bundles FFmpeg; imported lazily because soundfile covers most files

    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        if _looks_like_audio(data, suffix):
            raise CorruptAudioError(label, f"not decodable as audio: {exc}") from exc
        raise UnsupportedFormatError(label, "not a recognised audio or video format") from exc
    with container:
        streams = [s for s in container.streams if s.type == "audio"]
        if not streams:
            raise UnsupportedFormatError(label, "the container has no audio stream")
        stream = streams[0]
        rate = int(stream.codec_context.sample_rate or stream.rate or 0)
        if stream.duration is not None and stream.time_base is not None:
            seconds = float(stream.duration * stream.time_base)
            if seconds > max_duration_s:
                raise AudioTooLongError(label, f"{seconds:.1f} s is over the {max_duration_s:g} s cap")
        channels = stream.codec_context.channels or 1
        resampler = av.AudioResampler(format="flt", layout="mono" if channels == 1 else "stereo", rate=rate)
        chunks: list[np.ndarray] = []
        total = 0
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    arr = out.to_ndarray().reshape(-1, 1 if channels == 1 else 2)
                    chunks.append(arr)
                    total += len(arr)
                if rate and total / rate > max_duration_s:
                    raise AudioTooLongError(label, f"longer than the {max_duration_s:g} s cap")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1, 1 if channels == 1 else 2))
        except av.error.FFmpegError as exc:
            raise CorruptAudioError(label, f"decoding failed: {exc}") from exc
    if not chunks or rate <= 0:
        raise EmptyAudioError(label, "the audio stream holds no samples")
    return np.concatenate(chunks).astype(np.float32, copy=False), rate


def _finish(frames: np.ndarray, rate: int, label: str, max_duration_s: float) -> AudioClip:
    if rate <= 0:
        raise InvalidSamplesError(label, f"invalid sample rate {rate}")
    if frames.size == 0:
        raise EmptyAudioError(label, "the audio holds no samples")
    if not np.isfinite(frames).all():
        raise InvalidSamplesError(label, "the samples contain NaN or infinite values")
    channels = frames.shape[1]
    duration = frames.shape[0] / rate
    if duration < MIN_DURATION_S:
        raise EmptyAudioError(label, f"{duration * 1000:.1f} ms of audio is too short (need {MIN_DURATION_S * 1000:.0f} ms)")
    if duration > max_duration_s:
        raise AudioTooLongError(label, f"{duration:.1f} s is over the {max_duration_s:g} s cap")
    mono = frames.mean(axis=1, dtype=np.float32) if channels > 1 else frames[:, 0]
    if rate != TARGET_RATE:
        mono = soxr.resample(mono, rate, TARGET_RATE, quality="HQ").astype(np.float32, copy=False)
    if float(np.max(np.abs(mono))) < SILENCE_PEAK:
        raise SilentAudioError(label, "the audio holds only silence")
    return AudioClip(np.ascontiguousarray(mono), label, rate, channels)


__all__ = ["AudioClip", "AudioError", "AudioSource", "load_audio", "TARGET_RATE", "DEFAULT_MAX_DURATION_S"]
