"""The session store: many sessions by id, run from a path to a searchable stored session in one direction.

:mod:`.session_store` holds :class:`SessionStore`; :mod:`.library_search` its search over all sessions;
:mod:`.recovery` what a dead process left behind; :mod:`.retention` which sessions a bounded store removes."""

from aero_agent.store.recovery import INTERRUPTED, LIVE_INTERRUPTED
from aero_agent.store.session_store import Opened, SessionStore

__all__ = ["SessionStore", "Opened", "INTERRUPTED", "LIVE_INTERRUPTED"]
