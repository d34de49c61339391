"""Where the shared real-speech clips live for the tests: ``$AERO_SPEECH_DIR`` or ``../shared/speech``.

Tests that need these clips skip when the folder is absent; none silently uses other audio instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SPEECH_DIR = Path(os.environ.get("AERO_SPEECH_DIR") or REPO.parent / "shared" / "speech").expanduser()
CLIPS_DIR = SPEECH_DIR / "clips"
MANIFEST = SPEECH_DIR / "manifest.jsonl"


def require_speech() -> Path:
    """The speech folder; skips the calling test when it (or its manifest) is absent."""
    if not MANIFEST.is_file():
        pytest.skip(f"{SPEECH_DIR} is not present (set AERO_SPEECH_DIR to the folder with manifest.jsonl)")
    return SPEECH_DIR


def manifest_rows() -> list[dict]:
    """Rows of ``manifest.jsonl``, each with ``abs_path``; skips when the folder is absent."""
    folder = require_speech()
    rows = [json.loads(line) for line in MANIFEST.read_text().splitlines() if line.strip()]
    for row in rows:
        row["abs_path"] = str(folder / row["path"])
    return rows


def speech_file(name: str) -> Path:
    """One clip of ``clips/``; skips when it is absent."""
    path = CLIPS_DIR / name
    if not path.is_file():
        pytest.skip(f"{path} is not present (set AERO_SPEECH_DIR to the folder with manifest.jsonl)")
    return path
