"""Everything that knows the disk: the layout (:mod:`.layout`), the one atomic write (:mod:`.atomic`), a session's
files (:mod:`.session_files`) and the store's catalog (:mod:`.catalog`). This face hands on the low-level writes
only, so importing it loads no model library."""

from aero_agent.hashing import sha256_file
from aero_agent.persistence.atomic import atomic_write, atomic_write_with, write_json

__all__ = ["atomic_write", "atomic_write_with", "write_json", "sha256_file"]
