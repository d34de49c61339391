"""A diarized session's speaker prints, kept in its folder (``voiceprints.npz``, mode 600), so voices
enrolled later are recognised in it without decoding its audio again."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from aero_agent.voices.library import write_private
from aero_agent.voices.prints import VoicePrint

FILE = "voiceprints.npz"


def save_prints(folder: Path, prints: dict[str, VoicePrint], talk: dict[str, float]) -> None:
    """Write the prints (and each speaker's talk time, seconds) of a session's latest diarization."""
    labels = sorted(prints)
    counts = [len(prints[s].embeddings) for s in labels]
    buffer = io.BytesIO()
    np.savez(buffer, labels=np.array(labels, dtype=str),
             centroids=np.stack([prints[s].centroid for s in labels]).astype(np.float32) if labels
             else np.zeros((0, 256), np.float32),
             embeddings=np.concatenate([prints[s].embeddings for s in labels]).astype(np.float32) if labels
             else np.zeros((0, 256), np.float32),
             counts=np.array(counts, dtype=np.int64), seconds=np.array([prints[s].seconds for s in labels]),
             talk=np.array([float(talk.get(s, 0.0)) for s in labels]))
    write_private(folder / FILE, buffer.getvalue())


def drop_speakers(folder: Path, labels: set[str]) -> None:
    """Rewrite the session's prints without those of ``labels`` (a forgotten voice's speakers), atomically;
    nothing is written when none of them has a print there."""
    prints = load_prints(folder)
    if not labels & set(prints):
        return
    talk = load_talk(folder)
    save_prints(folder, {s: p for s, p in prints.items() if s not in labels}, talk)


def load_prints(folder: Path) -> dict[str, VoicePrint]:
    """The session's prints by speaker label (``{}`` when it was never diarized with prints)."""
    try:
        with np.load(folder / FILE, allow_pickle=False) as data:
            labels, centroids, embeddings = data["labels"], data["centroids"], data["embeddings"]
            counts, seconds = data["counts"], data["seconds"]
    except FileNotFoundError:
        return {}
    bounds = np.concatenate([[0], np.cumsum(counts)])
    return {str(s): VoicePrint(centroids[i].astype(np.float64), embeddings[bounds[i]:bounds[i + 1]], float(seconds[i]))
            for i, s in enumerate(labels)}


def load_talk(folder: Path) -> dict[str, float]:
    """Each printed speaker's talk time in the session (seconds)."""
    try:
        with np.load(folder / FILE, allow_pickle=False) as data:
            return {str(s): round(float(t), 2) for s, t in zip(data["labels"], data["talk"])}
    except FileNotFoundError:
        return {}
