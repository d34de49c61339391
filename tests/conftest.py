"""Shared fixtures: one engine load per test session, real speech clips, the bundled example."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
SPEECH_DIR = Path(os.environ.get("AERO_SPEECH_DIR", REPO.parent / "shared" / "speech"))


@pytest.fixture(scope="session")
def engine():
    """The embedded Whisper tiny.en engine, loaded once."""
    from aero_agent.engines import default_engine

    return default_engine()


@pytest.fixture(scope="session")
def example_wav() -> Path:
    from aero_agent.data import example_path

    return example_path("jfk")


@pytest.fixture(scope="session")
def speech_manifest() -> list[dict]:
    """Speech clips of ../shared/speech with their reference text; skips when the folder is absent."""
    manifest = SPEECH_DIR / "manifest.jsonl"
    if not manifest.exists():
        pytest.skip(f"{SPEECH_DIR} is not present")
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    for row in rows:
        row["abs_path"] = str(SPEECH_DIR / row["path"])
    return [r for r in rows if r["kind"] == "speech"]
