"""Planning a run: which found files are already in the store, and which are left to do.

Planning reads the manifest and stats the files; it hashes only files whose path, size or modification time
is new, and it loads no model, so a rerun with nothing left takes well under a second per thousand files.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from aero_agent.archive.discovery import SourceFile
from aero_agent.archive.manifest import Manifest, Profile
from aero_agent.hashing import sha256_file
from aero_agent.persistence.layout import STAGING



@dataclass(frozen=True)
class Task:
    """A file to index."""

    file: SourceFile
    content_hash: str


@dataclass
class Plan:
    todo: list[Task] = field(default_factory=list)
    skipped: int = 0
    failed_before: int = 0
    twins: list[tuple[Task, Task]] = field(default_factory=list)
    """Files whose content equals a file in ``todo``: (copy, original); they share its session once done."""


def settle_publications(manifest: Manifest, store_root: Path) -> int:
    """Rows a killed run left ``publishing``: done when their session folder was published, else forgotten
    (the file is redone) with any half-written staging folder removed. Call only while holding the run lock."""
    settled = 0
    for entry in manifest.entries().values():
        if entry.status != "publishing" or entry.session_id is None:
            continue
        if (store_root / entry.session_id / "info.json").is_file():
            manifest.mark_done(entry.path)
        else:
            shutil.rmtree(store_root / STAGING / entry.session_id, ignore_errors=True)
            manifest.forget(entry.path)
        settled += 1
    return settled


def make_plan(files: Sequence[SourceFile], manifest: Manifest, profile: Profile,
              retry_failed: bool = False) -> Plan:
    """Split ``files`` into skipped (same path, size and mtime as a done row, or same content) and to do."""
    entries = manifest.entries()
    by_hash = {e.content_hash: e for e in entries.values() if e.content_hash and e.serves(profile)}
    plan = Plan()
    first_of: dict[str, Task] = {}
    for file in files:
        entry = entries.get(file.path)
        same_version = entry is not None and entry.size == file.size and entry.mtime == file.mtime
        if same_version and entry.serves(profile):
            plan.skipped += 1
            continue
        if same_version and entry.status == "failed" and not retry_failed:
            plan.failed_before += 1
            continue
        digest = sha256_file(file.path)
        twin = by_hash.get(digest)
        if twin is not None:  # a copy or a move of a file already indexed: same session
            manifest.record(file.path, file.size, file.mtime, digest, profile, "done", twin.session_id,
                            twin.duration_s)
            plan.skipped += 1
            continue
        task = Task(file, digest)
        if digest in first_of:
            plan.twins.append((task, first_of[digest]))
            continue
        first_of[digest] = task
        plan.todo.append(task)
    return plan
