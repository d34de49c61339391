"""Voice prints: GE2E embeddings of the cleanest speech of each speaker (windows far from a change of
speaker), their centroid, and how much clean speech they came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from aero_agent.speakers.base import SpeakerWindows
from aero_agent.speakers.windows import merge_regions, plan_windows

WINDOW_S = 1.5
HOP_S = 0.75
MARGIN_S = 0.5
"""Windows start and end at least this far inside a speaker's turn (a change of speaker is not clean speech)."""
KEEP = 8
"""Embeddings kept per print: those nearest the centroid (the cleanest), the rest are averaged in only."""


@dataclass(frozen=True)
class VoicePrint:
    """A speaker's voice: unit centroid ``(256,)``, up to :data:`KEEP` window embeddings ``(k, 256)`` and the
    seconds of speech they summarise."""

    centroid: np.ndarray
    embeddings: np.ndarray
    seconds: float


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def summarise(embeddings: np.ndarray, seconds: float) -> VoicePrint:
    """The print of a set of window embeddings: centroid and the :data:`KEEP` windows nearest it."""
    centre = unit(embeddings.mean(axis=0))
    order = np.argsort(-(embeddings @ centre))[:KEEP]
    return VoicePrint(centre, embeddings[order].astype(np.float32), round(float(seconds), 2))


def clean_regions(turns: Sequence[tuple[float, float]], margin_s: float = MARGIN_S) -> list[tuple[float, float]]:
    """The inside of each turn, ``margin_s`` away from both ends; turns too short for a window are dropped."""
    return [(a + margin_s, b - margin_s) for a, b in turns if b - a - 2 * margin_s >= WINDOW_S]


def embed_regions(samples: np.ndarray, regions: Sequence[tuple[float, float]]) -> np.ndarray:
    """Unit GE2E embeddings of :data:`WINDOW_S` windows every :data:`HOP_S` over ``regions`` (seconds)."""
    from aero_agent.speakers.diarizer import EmbeddingDiarizer
    from aero_agent.speakers.labelling import torch_threads

    duration = len(samples) / 16_000
    plan = plan_windows(merge_regions(regions, duration), duration, WINDOW_S, HOP_S)
    if len(plan) == 0:
        return np.zeros((0, 256))
    with torch_threads(1):
        embeddings, _ = EmbeddingDiarizer().embed(np.asarray(samples, dtype=np.float32), plan)
    return embeddings


def speaker_turns(segments: Sequence[tuple[float, float, str | None]]) -> dict[str, list[tuple[float, float]]]:
    """Each speaker's turns: runs of consecutive segments (``start, end, speaker``) of one speaker, joined."""
    turns: dict[str, list[tuple[float, float]]] = {}
    last: str | None = None
    for start, end, speaker in segments:
        if speaker is None:
            last = None
            continue
        runs = turns.setdefault(speaker, [])
        if speaker == last and runs:
            runs[-1] = (runs[-1][0], max(runs[-1][1], end))
        else:
            runs.append((start, end))
        last = speaker
    return turns


def windows_within(windows: SpeakerWindows, regions: Sequence[tuple[float, float]],
                   slack_s: float = 0.05) -> np.ndarray:
    """Indices of the ``windows`` that lie wholly inside one of ``regions`` (``slack_s`` allowed at each end)."""
    if not regions or len(windows.starts) == 0:
        return np.zeros(0, dtype=int)
    lows = np.array([a for a, _ in regions]) - slack_s
    highs = np.array([b for _, b in regions]) + slack_s
    starts, ends = windows.starts[:, None], windows.starts[:, None] + windows.length_s
    return np.flatnonzero(((starts >= lows) & (ends <= highs)).any(axis=1))


def embeddings_in(samples: np.ndarray, windows: SpeakerWindows | None,
                  *choices: Sequence[tuple[float, float]]) -> np.ndarray:
    """The diarizer's ``windows`` embeddings wholly inside the first of ``choices`` (each a list of regions)
    that holds any; without one, the encoder's over the first non-empty choice."""
    for regions in choices:
        inside = windows_within(windows, regions) if windows is not None else np.zeros(0, dtype=int)
        if len(inside):
            return windows.embeddings[inside]  # type: ignore[union-attr]
    first = next((list(regions) for regions in choices if regions), [])
    return embed_regions(samples, first) if first else np.zeros((0, 256))


def speaker_prints(samples: np.ndarray, segments: Sequence[tuple[float, float, str | None]],
                   windows: SpeakerWindows | None = None) -> dict[str, VoicePrint]:
    """One print per speaker of a diarized recording, from windows well inside its turns (all of its turns
    when none is long enough). With the diarizer's own ``windows`` (same length and hop as :data:`WINDOW_S`,
    :data:`HOP_S`), its embeddings of those windows are used and the encoder runs only for a speaker none of
    them lies inside; otherwise one encoder pass per speaker."""
    out: dict[str, VoicePrint] = {}
    for speaker, runs in speaker_turns(segments).items():
        clean = clean_regions(runs)
        embeddings = embeddings_in(samples, windows, clean, runs)
        if len(embeddings):
            out[speaker] = summarise(embeddings, sum(b - a for a, b in clean or runs))
    return out
