"""Smoothing speaker labels over time: a Viterbi pass through a hidden Markov model whose states are the
speakers, as VBx does with its loop probability, so that a lone window cannot flip the speaker."""

from __future__ import annotations

import numpy as np


def viterbi_smooth(similarity: np.ndarray, switch_penalty: float) -> np.ndarray:
    """The best state path for a ``(windows, speakers)`` matrix of similarities (higher is better), where
    each change of speaker costs ``switch_penalty`` (in the same units)."""
    n, k = similarity.shape
    if n == 0 or k <= 1:
        return np.zeros(n, dtype=int)
    score = similarity[0].astype(np.float64).copy()
    back = np.zeros((n, k), dtype=int)
    stay = np.eye(k, dtype=bool)
    for t in range(1, n):
        options = score[:, None] - switch_penalty * ~stay  # options[i, j]: from speaker i to j
        back[t] = np.argmax(options, axis=0)
        score = options[back[t], np.arange(k)] + similarity[t]
    path = np.zeros(n, dtype=int)
    path[-1] = int(np.argmax(score))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path
