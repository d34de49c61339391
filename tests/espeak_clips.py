"""The eSpeak NG clips in tests/data (German and Spanish speech made for the language tests) and what they say."""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).parent / "data"
GERMAN = DATA / "espeak_de.flac"
GERMAN_IN_ENGLISH: str = next(r["english"] for r in json.loads((DATA / "espeak.json").read_text("utf-8"))
                              if r["language"] == "de")
