"""Live audio as it arrives: chunks of bytes or base64 (raw s16le or WAV) and sample arrays, checked and made
float32 16 kHz mono."""

from __future__ import annotations

import numpy as np

from aero_agent.errors import AudioTooLargeError, CorruptAudioError, InvalidSamplesError
from aero_agent.vad import SAMPLE_RATE

LIVE_SOURCE = "<live>"


def as_float_samples(samples: np.ndarray, label: str = LIVE_SOURCE) -> np.ndarray:
    """16 kHz mono samples as float32 in [-1, 1]: float arrays as they are, int16 scaled; anything else, more
    than one channel, or non-finite values raise :class:`InvalidSamplesError`."""
    array = np.asarray(samples)
    if array.ndim != 1:
        raise InvalidSamplesError(label, f"live audio must be mono 1-D samples, got shape {array.shape}")
    if array.dtype == np.int16:
        return array.astype(np.float32) / 32768.0
    if array.dtype not in (np.float32, np.float64):
        raise InvalidSamplesError(label, f"live audio must be float32 or int16 samples, got {array.dtype}")
    array = array.astype(np.float32, copy=False)
    if not np.isfinite(array).all():
        raise InvalidSamplesError(label, "the chunk holds NaN or infinite samples")
    return array


def decode_chunk(data: bytes, fmt: str = "s16le", label: str = LIVE_SOURCE) -> np.ndarray:
    """Bytes of one live chunk as float32 samples: raw ``s16le`` 16 kHz mono, or a ``wav`` file of 16 kHz mono.

    An odd byte count, another rate or channel count, or an unknown format raise a typed error."""
    if fmt == "s16le":
        if len(data) % 2:
            raise InvalidSamplesError(label, f"{len(data)} bytes is not a whole number of 16-bit samples")
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    if fmt == "wav":  # not load_audio: a chunk of silence, or shorter than a word, is fine live
        import io

        import soundfile as sf

        try:
            samples, rate = sf.read(io.BytesIO(bytes(data)), dtype="float32", always_2d=True)
        except (RuntimeError, sf.LibsndfileError) as exc:
            raise CorruptAudioError(label, f"not a readable WAV chunk ({exc})") from exc
        if rate != SAMPLE_RATE or samples.shape[1] != 1:
            raise InvalidSamplesError(label, f"live WAV chunks must be 16 kHz mono, got {rate} Hz with "
                                             f"{samples.shape[1]} channel(s)")
        return samples[:, 0]
    raise InvalidSamplesError(label, f"unknown chunk format {fmt!r}; use 's16le' or 'wav'")


MAX_BASE64_CHARS = 4 * 1024 * 1024  # a minute of s16le (1.92 MB) is 2.56 M characters


def decode_base64_chunk(text: str, fmt: str = "s16le") -> np.ndarray:
    """A base64 chunk (as tools receive audio) as float32 samples; see :func:`decode_chunk`."""
    import base64
    import binascii

    from aero_agent.errors import InvalidArgumentError

    if len(text) > MAX_BASE64_CHARS:
        raise AudioTooLargeError(LIVE_SOURCE, f"{len(text)} base64 characters is over the {MAX_BASE64_CHARS} "
                                              "one chunk may carry; send shorter chunks")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidArgumentError(f"audio_base64 is not valid base64 ({exc})") from exc
    return decode_chunk(data, fmt)
