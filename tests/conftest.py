"""Shared fixtures: one engine load per test session, real speech clips, the bundled example.

The suite is isolated from the user's machine: converted weights go to a temporary ``AERO_CACHE_DIR`` made for
this test session (so a stale ``~/.cache/aero-agent`` cannot change results, and nothing is written there), and
every subprocess a test starts inherits it through ``os.environ``. Converting the embedded model once into the
fresh folder costs about 3.5 s (10.5 s cold against 7.1 s warm for a process that loads it, measured on the
shared 2-core machine).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from speech_data import manifest_rows

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
_CACHE = tempfile.mkdtemp(prefix="aero-test-cache-")
os.environ["AERO_CACHE_DIR"] = _CACHE


def pytest_sessionfinish(session, exitstatus) -> None:
    shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def engine():
    """The embedded Whisper tiny.en engine, loaded once."""
    from aero_agent.engines import default_engine

    return default_engine()


@pytest.fixture(scope="session")
def base_engine():
    """The multilingual Whisper base engine (the ``aero-agent[base]`` extra, in the dev extra), loaded once."""
    from aero_agent.engines import load_engine

    return load_engine("whisper", "base")


@pytest.fixture(scope="session")
def embedder():
    """The embedded MiniLM sentence embedder, loaded once."""
    from aero_agent.embeddings import default_embedder

    return default_embedder()


@pytest.fixture(scope="session")
def example_wav() -> Path:
    from aero_agent.data import example_path

    return example_path("jfk")


@pytest.fixture(scope="session")
def speech_manifest() -> list[dict]:
    """Speech clips of ``$AERO_SPEECH_DIR`` (default ../shared/speech) with their reference text; skips when absent."""
    return [r for r in manifest_rows() if r["kind"] == "speech"]
