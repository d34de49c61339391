"""Typed errors of the voice library (all are :class:`~aero_agent.errors.AeroError`)."""

from aero_agent.errors import InvalidArgumentError, LookupFailedError, SessionBusyError


class VoiceNotFoundError(LookupFailedError):
    """No voice has this name (or id)."""


class VoiceNameTakenError(InvalidArgumentError):
    """A name already belongs to another voice (pass ``merge=True`` to add to it)."""


class SeveralVoicesError(InvalidArgumentError):
    """An enrollment sample holds more than one voice."""


class NoSpeechError(InvalidArgumentError):
    """An enrollment sample (or a session's speaker) has no speech to learn a voice from."""


class VoiceInUseError(SessionBusyError):
    """The voice is in use by a session that is still encoding."""
