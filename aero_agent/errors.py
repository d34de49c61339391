"""Typed errors raised by aero-agent. Every message names the input and the reason."""

from __future__ import annotations


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


class SourceChangedError(AudioError):
    """A session's source file is gone or changed since the session was opened, so it cannot be read again."""


class PathNotAllowedError(AeroError):
    """A path resolves outside the folders the caller may read."""


class CapabilityError(AeroError):
    """The engine (and reasoner) in use cannot do what was asked."""


class EnglishOnlyModelError(CapabilityError):
    """A language other than English, detection or translation was asked of an English-only model."""


class LookupFailedError(AeroError, KeyError):
    """Base of the "no such id or name" errors: a KeyError whose text is its message as given."""

    fallback = ""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else self.fallback


class SessionNotFoundError(LookupFailedError):
    """No session with that id exists in the store."""

    fallback = "session not found"


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


class ReasonerError(AeroError):
    """The reasoner chat model named cannot be made (a malformed name, or its provider's package missing)."""


class SessionClosedError(AeroError):
    """A live session has finished (or was closed): it takes no more audio."""


class SessionBusyError(AeroError):
    """Another writer is feeding this live session right now; audio of one stream comes from one writer."""


class StoreBusyError(AeroError):
    """Another index run holds this store; one run per store at a time (its own workers share the work)."""


class MissingExtraError(AeroError):
    """An optional part (an extra such as ``aero-agent[ray]``) is not installed."""
