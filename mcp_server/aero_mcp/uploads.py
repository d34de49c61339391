"""Audio a remote client sends rather than names: inline (``open_audio`` with ``audio_base64``) or in chunks
(``start_upload`` / ``append_upload`` / ``finish_upload``).

Received bytes are written to the tenant's upload folder under their SHA-256 (the same recording sent twice is
one file, so ``open_audio`` reuses its session) and then opened like any file, through the same decoder and the
same checks (size, length, format, silence). Nothing is ever fetched from a URL. Uploads in progress live in
memory and in ``.partial`` files; one left unfinished for an hour is dropped.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aero_agent.audio import AUDIO_EXTENSIONS
from aero_agent.errors import AudioTooLargeError, EmptyAudioError, InvalidArgumentError
from aero_agent.persistence import atomic_write
from aero_mcp.quotas import QuotaExceededError

MAX_CHUNK_CHARS = 4_000_000
"""base64 characters one message may carry (3 MB of audio): the SDK refuses HTTP bodies over 4 MiB."""
MAX_PENDING = 4
"""Uploads one tenant may have in progress at once."""
STALE_S = 3600.0
PARTIAL = ".partial"
_MAGIC = ((b"RIFF", ".wav"), (b"RF64", ".wav"), (b"fLaC", ".flac"), (b"OggS", ".ogg"), (b"ID3", ".mp3"),
          (b"\xff\xfb", ".mp3"), (b"\xff\xf3", ".mp3"), (b"\x1aE\xdf\xa3", ".webm"), (b"FORM", ".aiff"))


class UploadNotFoundError(InvalidArgumentError):
    """No upload in progress has this id (for this tenant)."""


def decode_base64(text: str, what: str = "audio_base64") -> bytes:
    """Strict base64 (no stray characters) to bytes; a typed error otherwise."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidArgumentError(f"{what} is not valid base64 ({exc})") from exc


def suffix_for(data: bytes, filename: str | None) -> str:
    """The file suffix that tells the decoder the format: the client's file name's, else the content's."""
    suffix = Path(filename or "").suffix.lower()
    if suffix in AUDIO_EXTENSIONS:
        return suffix
    for magic, found in _MAGIC:
        if data.startswith(magic):
            return found
    if data[4:8] == b"ftyp":
        return ".m4a"
    return ".bin"  # the decoder still tries; it refuses what it cannot read


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def save(folder: Path, data: bytes, filename: str | None, max_bytes: int | None,
         max_folder_bytes: int | None = None) -> Path:
    """Write ``data`` into ``folder`` as ``<sha256><suffix>`` (kept when already there) and return its path."""
    label = filename or "audio_base64"
    if not data:
        raise EmptyAudioError(label, "no bytes were sent")
    if max_bytes is not None and len(data) > max_bytes:
        raise AudioTooLargeError(label, f"{len(data)} bytes is over the {max_bytes}-byte cap")
    path = folder / f"{hashlib.sha256(data).hexdigest()[:40]}{suffix_for(data, filename)}"
    if not path.exists():
        if max_folder_bytes is not None and folder_bytes(folder) + len(data) > max_folder_bytes:
            raise QuotaExceededError(f"QuotaExceeded: this tenant's uploads would pass its {max_folder_bytes}-byte "
                                     "store quota. Close sessions you no longer need, or ask the operator.")
        atomic_write(path, data)
        os.chmod(path, 0o600)
    return path


@dataclass
class Pending:
    """An upload in progress: its client's file name, bytes received so far, and when it was last added to."""

    filename: str | None
    path: Path
    received: int = 0
    touched: float = field(default_factory=time.monotonic)
    hasher: "hashlib._Hash" = field(default_factory=hashlib.sha256)


class Uploads:
    """A tenant's uploads in progress, by id."""

    def __init__(self, folder: Path, max_bytes: int | None, max_folder_bytes: int | None = None) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.max_folder_bytes = max_folder_bytes
        self._pending: dict[str, Pending] = {}
        self._lock = threading.Lock()

    def start(self, filename: str | None) -> str:
        with self._lock:
            self._drop_stale()
            if len(self._pending) >= MAX_PENDING:
                raise QuotaExceededError(f"QuotaExceeded: {MAX_PENDING} uploads are already in progress; finish or "
                                         "wait for one (an unfinished upload is dropped after an hour).")
            upload_id = secrets.token_hex(12)
            partial = self.folder / PARTIAL
            partial.mkdir(exist_ok=True, mode=0o700)
            path = partial / upload_id
            path.touch(mode=0o600)
            self._pending[upload_id] = Pending(filename, path)
            return upload_id

    def append(self, upload_id: str, offset: int, chunk: bytes) -> int:
        """Add ``chunk`` at ``offset`` (which must be the bytes received so far: a repeated chunk is refused,
        not appended twice); return the bytes received."""
        with self._lock:
            pending = self._get(upload_id)
            if offset != pending.received:
                raise InvalidArgumentError(f"offset {offset} does not follow the {pending.received} bytes received "
                                           f"so far; send the chunk that starts at offset {pending.received}")
            if self.max_bytes is not None and pending.received + len(chunk) > self.max_bytes:
                self._discard(upload_id)
                raise AudioTooLargeError(pending.filename or upload_id, f"over the {self.max_bytes}-byte cap; "
                                                                        "the upload is dropped")
            with open(pending.path, "ab") as out:
                out.write(chunk)
            pending.hasher.update(chunk)
            pending.received += len(chunk)
            pending.touched = time.monotonic()
            return pending.received

    def finish(self, upload_id: str, sha256: str | None = None) -> tuple[Path, str | None]:
        """The finished upload saved like inline audio (its path), after checking its digest when given."""
        with self._lock:
            pending = self._get(upload_id)
            self._discard(upload_id, keep_file=True)
        try:
            digest = pending.hasher.hexdigest()
            if sha256 is not None and sha256.strip().lower() != digest:
                raise InvalidArgumentError(f"the upload's SHA-256 is {digest}, not {sha256}: a chunk was lost or "
                                           "changed; start the upload again")
            return save(self.folder, pending.path.read_bytes(), pending.filename, self.max_bytes,
                        self.max_folder_bytes), pending.filename
        finally:
            pending.path.unlink(missing_ok=True)

    def close_with(self, store: Any, session_id: str) -> None:
        """Close a session of ``store``; when it was opened from audio a client sent and no other session was,
        delete that audio too (files named elsewhere are never touched)."""
        try:
            source = Path(store.status(session_id).source)
        except Exception:  # noqa: BLE001 - store.close says what is wrong with the id
            source = None
        store.close(session_id)
        if source is None or source.parent != self.folder:
            return
        if all(Path(info.source) != source for info in store.list()):
            source.unlink(missing_ok=True)

    def _get(self, upload_id: str) -> Pending:
        pending = self._pending.get(upload_id) if isinstance(upload_id, str) else None
        if pending is None:
            raise UploadNotFoundError(f"unknown upload id {upload_id!r}; call start_upload first")
        return pending

    def _discard(self, upload_id: str, keep_file: bool = False) -> None:
        pending = self._pending.pop(upload_id, None)
        if pending is not None and not keep_file:
            pending.path.unlink(missing_ok=True)

    def _drop_stale(self) -> None:
        now = time.monotonic()
        for upload_id in [u for u, p in self._pending.items() if now - p.touched > STALE_S]:
            self._discard(upload_id)
