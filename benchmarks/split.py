"""The tuning half and the checking half of the development data in ``../shared/speech``.

Thresholds and defaults are chosen on the *tuning* half; every accuracy figure is reported on both halves side by
side. The split is by recording group, never by segment: clips of one speaker (or one source recording) fall in one
half, and two meetings of the same team fall in one half, so a figure on the checking half is a figure on voices and
rooms the tuning never heard.

``python benchmarks/split.py`` rewrites ``benchmarks/split.json`` from the manifests (deterministic: groups are
ordered by a SHA-1 of their name and each goes to the half with less audio so far). Benchmarks read the file with
:func:`load_split` / :func:`half_of`, so a new clip in ``../shared`` changes no earlier assignment silently: the
file is the record, and a clip missing from it is reported as unassigned.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPLIT_FILE = HERE / "split.json"
DEFAULT_SPEECH_DIR = HERE.parent.parent / "shared" / "speech"
HALVES = ("tuning", "checking")

# Diarization recordings by team: the two ES2003 meetings (same people) tune, the EN2001 pair checks.
DIARIZATION = {
    "tuning": ["ami_ES2003a_0", "ami_ES2003b_0", "pyannote_sample"],
    "checking": ["ami_EN2001a_0", "ami_EN2001e_0", "falcon_test", "pya_diarizationExample"],
}


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _digest(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


def _balanced(groups: dict[str, float]) -> dict[str, str]:
    """Group name -> half: groups in SHA-1 order, each to the half with less duration so far."""
    totals = {half: 0.0 for half in HALVES}
    assignment: dict[str, str] = {}
    for name in sorted(groups, key=_digest):
        half = min(HALVES, key=lambda h: (totals[h], HALVES.index(h)))
        assignment[name] = half
        totals[half] += groups[name]
    return assignment


def _split_clips(rows: list[dict]) -> dict[str, list[str]]:
    """Speech and non-speech clips of ``manifest.jsonl``, grouped by speaker (else by the clip itself)."""
    out: dict[str, list[str]] = {}
    for kind in ("speech", "nonspeech"):
        members: dict[str, list[str]] = {}
        durations: dict[str, float] = {}
        for row in rows:
            if row["kind"] != kind:
                continue
            group = row.get("speaker") or row["id"]
            members.setdefault(group, []).append(row["id"])
            durations[group] = durations.get(group, 0.0) + float(row.get("duration_s") or 0.0)
        for group, half in _balanced(durations).items():
            out.setdefault(f"{kind}_{half}", []).extend(members[group])
    return {key: sorted(ids) for key, ids in sorted(out.items())}


def _split_voices(rows: list[dict]) -> dict[str, list[str]]:
    """Known speakers split by speaker (files stay with their speaker); unknown voices split by speaker too."""
    out: dict[str, list[str]] = {}
    for which in ("known", "unknown"):
        speakers = {r["speaker"]: 1.0 for r in rows if r["set"] == which}
        for speaker, half in _balanced(speakers).items():
            out.setdefault(f"voices_{which}_{half}", []).append(speaker)
    return {key: sorted(ids) for key, ids in sorted(out.items())}


def _split_words(speech_dir: Path, clip_half: dict[str, str]) -> dict[str, list[str]]:
    """Word-time files follow their clip's half; a file for no listed clip is balanced on its own."""
    out: dict[str, list[str]] = {f"words_{h}": [] for h in HALVES}
    loose: dict[str, float] = {}
    for path in sorted((speech_dir / "words").glob("*.words.tsv")):
        stem = path.name[: -len(".words.tsv")]
        if stem in clip_half:
            out[f"words_{clip_half[stem]}"].append(stem)
        else:
            loose[stem] = 1.0
    for stem, half in _balanced(loose).items():
        out[f"words_{half}"].append(stem)
    return {key: sorted(ids) for key, ids in out.items()}


def build_split(speech_dir: Path = DEFAULT_SPEECH_DIR) -> dict[str, list[str]]:
    """The whole split from the manifests under ``speech_dir``."""
    split = _split_clips(_rows(speech_dir / "manifest.jsonl"))
    clip_half = {cid: key.rsplit("_", 1)[1] for key, ids in split.items() for cid in ids}
    split.update(_split_voices(_rows(speech_dir / "voices" / "manifest.jsonl")))
    split.update(_split_words(speech_dir, clip_half))
    split.update({f"diarization_{half}": sorted(ids) for half, ids in DIARIZATION.items()})
    return split


def load_split(path: Path = SPLIT_FILE) -> dict[str, list[str]]:
    """The recorded split: keys like ``speech_tuning``, ``diarization_checking``, ``voices_known_tuning``."""
    return json.loads(path.read_text())


def half_of(item_id: str, family: str = "speech", split: dict[str, list[str]] | None = None) -> str | None:
    """``"tuning"``, ``"checking"`` or None (not in the split) for an id of ``family`` (speech, nonspeech, ...)."""
    split = split if split is not None else load_split()
    for half in HALVES:
        if item_id in split.get(f"{family}_{half}", ()):
            return half
    return None


def main() -> int:
    speech_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SPEECH_DIR
    split = build_split(speech_dir)
    SPLIT_FILE.write_text(json.dumps(split, indent=1) + "\n")
    for key, ids in split.items():
        print(f"{key}: {len(ids)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
