"""The store's layout on disk: every file and folder name, in one place.

::

    <root>/
      catalog.sqlite          one row of metadata per session (persistence.catalog)
      .staging/<id>/          a session being published (renamed into the root when whole)
      .scratch/<run>/         an in-process index run's private store; its sessions are renamed into the root
      <id>/                   one session
        info.json             SessionInfo: what it is and how far it got (written last: the truth)
        transcript.json       the timed transcript
        history.json          the conversation turns
        encoded.json          the engine state's metadata and its tensors' checksums
        tensors.safetensors   the engine tensors that stay fixed (an answer-capable engine's encoding)
        turn_tensors.safetensors  the tensors that change every turn (a conversation cache)
        passages.safetensors  passage vectors for search, by passage key, with the embedder's model id
        .owner.lock           held by the process encoding or streaming the session
        .<name>.<random>.tmp  an atomic write in flight (persistence.atomic)

A file added by a later feature is named here too, so this module stays the map of the disk.
"""

from __future__ import annotations

import re
from pathlib import Path

INFO, TRANSCRIPT, HISTORY, META = "info.json", "transcript.json", "history.json", "encoded.json"
TENSORS, VOLATILE = "tensors.safetensors", "turn_tensors.safetensors"
VECTORS = "passages.safetensors"
OWNER_LOCK = ".owner.lock"
TEMPORARY = ".*.tmp"  # glob of atomic writes in flight (or left by a killed writer)
CATALOG = "catalog.sqlite"
STAGING = ".staging"
VOCABULARY = "vocabulary.json"  # the store's custom vocabulary (aero_agent.vocabulary), in the store's root
SCRATCH = ".scratch"
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def is_session_id(name: object) -> bool:
    """True when ``name`` can be a session id (and so a session folder's name)."""
    return isinstance(name, str) and bool(SESSION_ID.match(name))


def session_folder(root: Path, session_id: str) -> Path:
    """The folder of session ``session_id`` under the store's ``root``."""
    return root / session_id


def scratch_folder(root: Path) -> Path:
    """Where an index run in this process builds sessions before renaming them into the store (same disk)."""
    return root / SCRATCH


def staging_folder(root: Path, session_id: str | None = None) -> Path:
    """Where sessions are put together before they are published (one session's, when ``session_id``)."""
    return root / STAGING if session_id is None else root / STAGING / session_id
