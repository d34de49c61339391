"""Typed errors raised by aero-agent. Every message names the input and the reason."""

from __future__ import annotations

import os
from collections.abc import Sequence


class AeroError(Exception):
    """Base class for every error aero-agent raises on purpose."""


class AudioError(AeroError):
    """The audio input cannot be used. ``source`` names the file or object."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class AudioNotFoundError(AudioError):
    """The path does not exist."""


class NotAFileError(AudioError):
    """The path exists but is not a regular file (a directory, a device...)."""


class UnsupportedFormatError(AudioError):
    """No decoder recognises the data as audio."""


class CorruptAudioError(AudioError):
    """The data looks like audio but is corrupt or truncated."""


class EmptyAudioError(AudioError):
    """The audio has no samples, or too few to hold speech."""


class SilentAudioError(EmptyAudioError):
    """The audio holds only silence."""


class InvalidSamplesError(AudioError):
    """The samples are not finite numbers (NaN or infinity) or have a bad shape."""


class AudioTooLongError(AudioError):
    """The audio is longer than the configured duration cap."""


class AudioTooLargeError(AudioError):
    """The file is larger than the configured size cap."""


class PathNotAllowedError(AeroError):
    """A path resolves outside the folders the caller may read."""


class CapabilityError(AeroError):
    """The engine (and reasoner) in use cannot do what was asked."""


class SessionNotFoundError(AeroError, KeyError):
    """No session with that id exists in the store."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else "session not found"


class SessionNotReadyError(AeroError):
    """The session is still encoding, or its encoding failed."""


class CorruptSessionError(AeroError):
    """A stored session's files are missing or fail their checksum."""


class EncodingCancelledError(AeroError):
    """The session was closed, or the store shut down, while it was encoding."""


class StoreFullError(AeroError):
    """The session store is at its session or byte limit and nothing in it may be removed to make room."""


class CheckpointError(AeroError):
    """Model weights are missing, incomplete or do not fit the architecture."""


class ExtractionError(AeroError):
    """Structured output could not be produced or did not validate."""


class InvalidArgumentError(AeroError, ValueError):
    """An argument is out of range or malformed (a time range, a schema, ...)."""


# ----- what to do next -------------------------------------------------------------------------------------------
# The LangChain tools and the MCP server show an error as its message (which names the input and the reason)
# followed by the step a caller, most often a model, can take next. Both name their tools alike (open_audio,
# list_audio_sessions, ...), so the steps may name them; each layer keeps its own prefix and protocol wrapping.


def next_step(exc: BaseException, allowed_roots: Sequence[str | os.PathLike] | None = None) -> str:
    """What to do about ``exc``, as one or two sentences; ``""`` when its message already says it.

    ``allowed_roots`` are the folders files may be opened from (the first one resolves relative paths), for the
    layers that confine file access.
    """
    roots = [str(r) for r in allowed_roots or ()]
    if isinstance(exc, PathNotAllowedError):
        return "Only files inside the allowed folders can be opened; move the recording into one of them."
    if isinstance(exc, AudioNotFoundError):
        if not roots:
            return "Check the path."
        return (f"Check the path; relative paths are taken from {roots[0]} and only these folders are readable: "
                f"{', '.join(roots)}.")
    if isinstance(exc, NotAFileError):
        return "Give the path of one audio file" + (f"; relative paths are taken from {roots[0]}." if roots else ".")
    if isinstance(exc, (AudioTooLongError, AudioTooLargeError)):
        return "Split or trim the recording."
    if isinstance(exc, AudioError):
        return ("The file cannot be used as audio; check that it is a complete, playable recording (WAV, FLAC, "
                "MP3, M4A, OGG, ...).")
    if isinstance(exc, SessionNotFoundError):
        if "list_audio_sessions" in str(exc):
            return "If its session was closed, call open_audio to open the file again."
        return "Call list_audio_sessions to see the open sessions, or open_audio to open the file again."
    return ""


def with_next_step(exc: BaseException, allowed_roots: Sequence[str | os.PathLike] | None = None) -> str:
    """``exc``'s message followed by :func:`next_step`, as the layers show it (without their own prefix)."""
    message = str(exc).rstrip()
    step = next_step(exc, allowed_roots)
    if not step:
        return message
    return f"{message}{'' if message.endswith(('.', '!', '?')) else '.'} {step}"
