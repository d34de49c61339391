"""Identification: session speakers matched to library voices as an assignment (each voice to one speaker
at most, each speaker to one voice at most), pairs under the threshold rejected, with a confidence."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

THRESHOLD = 0.78
"""Cosine similarity between a speaker's centroid and a voice's centroid under which the speaker stays
anonymous. Chosen on the tuning half of ``speech/voices`` (benchmarks/voices.py, 30 joined meetings, prints
from the diarizer's own window embeddings): the best share of enrolled speakers' speech named right (97.2%)
among thresholds that name at most 2% of never-enrolled speakers' speech (1.6% here; 4.0% at 0.74, 14.2% at
0.70), the highest of equals (0.70 to 0.78 score the same; 0.80 96.4%). Checking half: 99.8% right, 3.7%
of strangers' speech named (0.0% at 0.80)."""
SPLIT_MARGIN = 0.04
"""A speaker left over by the assignment whose best voice, already given to another speaker, is at least
``threshold + SPLIT_MARGIN`` alike, and within :data:`SPLIT_GAP` of that speaker's similarity, gets it too: the
diarizer split one person in two (as naming two speakers with one name merges them)."""
SPLIT_GAP = 0.05
"""Two people of one meeting can both be near a voice (ES2003b: 0.90 for the right speaker, 0.83 for the other,
the room and microphone are shared); a split of one person is nearly as close as its other part."""
CONFIDENCE_SCALE = 0.03
"""Similarity above the threshold that makes the confidence 0.73 (a logistic of the margin)."""


@dataclass(frozen=True)
class Match:
    """A speaker's voice: its id, the similarity and the confidence (0.5 at the threshold, toward 1 above)."""

    voice: str
    similarity: float
    confidence: float


def confidence(similarity: float, threshold: float = THRESHOLD) -> float:
    return round(1.0 / (1.0 + math.exp(-(similarity - threshold) / CONFIDENCE_SCALE)), 3)


def voice_centroid(embeddings: np.ndarray) -> np.ndarray:
    mean = embeddings.mean(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)


def assign(speakers: dict[str, np.ndarray], voices: dict[str, np.ndarray], threshold: float = THRESHOLD,
           split_margin: float | None = SPLIT_MARGIN) -> dict[str, Match]:
    """The voice of each speaker that has one: ``speakers`` are unit centroids by label, ``voices`` unit
    centroids by voice id. The assignment maximises the total similarity (Hungarian algorithm); a pair
    under ``threshold`` is rejected, so a speaker is never given a voice that another speaker fits better
    and an unknown speaker stays anonymous. A speaker left over joins a voice it fits by ``split_margin`` more
    than the threshold (None: never)."""
    if not speakers or not voices:
        return {}
    from scipy.optimize import linear_sum_assignment

    labels, ids = list(speakers), list(voices)
    scores = np.stack([speakers[s] for s in labels]) @ np.stack([voices[v] for v in ids]).T
    rows, cols = linear_sum_assignment(-scores)
    pairs = {r: c for r, c in zip(rows, cols) if scores[r, c] >= threshold}
    if split_margin is not None:
        for r in sorted(set(range(len(labels))) - set(pairs)):
            c = int(np.argmax(scores[r]))
            taken = [scores[o, c] for o, oc in pairs.items() if oc == c]
            if scores[r, c] >= threshold + split_margin and (not taken or scores[r, c] >= max(taken) - SPLIT_GAP):
                pairs[r] = c
    return {labels[r]: Match(ids[c], round(float(scores[r, c]), 4), confidence(float(scores[r, c]), threshold))
            for r, c in sorted(pairs.items())}
