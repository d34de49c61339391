"""What a dead process left in a store: sessions it was encoding (marked failed), live streams it was taking
(their final text kept as a ready session), atomic writes in flight and half-published sessions (removed)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from aero_agent.locks import held_elsewhere
from aero_agent.persistence import session_files as disk
from aero_agent.persistence.catalog import Catalog
from aero_agent.persistence.layout import OWNER_LOCK, TEMPORARY, scratch_folder, session_folder, staging_folder
from aero_agent.results import utc_now
from aero_agent.session.live_stream import live_encoded
from aero_agent.transcript import Transcript

INTERRUPTED = "interrupted: the process stopped while encoding; open the file again"
LIVE_INTERRUPTED = "the process stopped during the live stream: its final text is kept, the partial tail is lost"
STAGING_STALE_S = 600.0


def recover_interrupted(root: Path, catalog: Catalog) -> list[str]:
    """Mark sessions left ``encoding`` by a dead process as failed, and make its live sessions ready with their
    final text; returns their ids. Sessions another live process owns are left alone."""
    found = []
    open_rows = catalog.infos("encoding") + catalog.infos("live")
    for session_id in sorted(r["id"] for r in open_rows):
        folder = session_folder(root, session_id)
        if held_elsewhere(folder / OWNER_LOCK):
            continue  # another live process is encoding or streaming it
        info = disk.read_info(folder)
        if info is None:
            continue
        if info.get("status") == "encoding":
            info.update(status="failed", error=INTERRUPTED, interrupted=True, updated=utc_now())
            catalog.write_info(folder, info)
        elif info.get("status") == "live":
            recover_live(folder, info)
            catalog.index(folder, info)
        else:
            continue
        for tmp in folder.glob(TEMPORARY):  # only a dead writer's: a live one's would be renamed later
            tmp.unlink(missing_ok=True)
        found.append(session_id)
    clear_staging(root)
    return found


def clear_staging(root: Path, older_than_s: float = STAGING_STALE_S) -> None:
    """Remove what a killed publish left in the staging folder (a live one takes milliseconds), and the scratch
    stores of killed in-process index runs."""
    for parent in (staging_folder(root), scratch_folder(root)):
        if not parent.is_dir():
            continue
        for entry in parent.iterdir():
            try:
                if time.time() - entry.stat().st_mtime > older_than_s:
                    shutil.rmtree(entry, ignore_errors=True)
            except OSError:
                continue


def recover_live(folder: Path, info: dict[str, Any]) -> None:
    """A live session whose process died: its saved final segments become an ordinary ready session."""
    transcript = disk.load_transcript(folder)
    if transcript is None:
        transcript = Transcript(duration_s=float(info.get("duration_s", 0.0)))
    encoded = live_encoded(info["engine"], info["model_id"], transcript)
    disk.save_encoded(folder, encoded)
    disk.save_transcript(folder, transcript)
    info.update(status="ready", progress=1.0, error=LIVE_INTERRUPTED, interrupted=True, updated=utc_now())
    disk.write_json(folder / disk.INFO, info)
