"""Typed errors of the voice library (all are :class:`~aero_agent.errors.AeroError`)."""

from aero_agent.errors import AeroError, InvalidArgumentError, SessionBusyError


class VoiceNotFoundError(AeroError, KeyError):
    """No voice has this name (or id)."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class VoiceNameTakenError(InvalidArgumentError):
    """A name already belongs to another voice (pass ``merge=True`` to add to it)."""


class SeveralVoicesError(InvalidArgumentError):
    """An enrollment sample holds more than one voice."""


class NoSpeechError(InvalidArgumentError):
    """An enrollment sample (or a session's speaker) has no speech to learn a voice from."""


class VoiceInUseError(SessionBusyError):
    """The voice is in use by a session that is still encoding."""
