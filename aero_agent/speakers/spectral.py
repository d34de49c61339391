"""Spectral clustering of speaker embeddings on a pruned affinity graph, with the pruning chosen by the
normalised maximum eigengap (NME-SC, Park et al. 2019), the usual way d-vectors are clustered. Used for a
known speaker count; the automatic count comes from agglomeration (see ``clustering``), which was steadier
on the development clips."""

from __future__ import annotations

import numpy as np

PRUNE_FRACTIONS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4)
MIN_NEIGHBOURS = 5


def _pruned_affinity(similarity: np.ndarray, keep: float) -> np.ndarray:
    """Keep each row's ``keep`` share of strongest links (at least ``MIN_NEIGHBOURS``), binarised and symmetrised."""
    n = len(similarity)
    top = min(n, max(MIN_NEIGHBOURS, int(np.ceil(keep * n))))
    order = np.argsort(-similarity, axis=1)[:, :top]
    graph = np.zeros_like(similarity)
    np.put_along_axis(graph, order, 1.0, axis=1)
    return np.maximum(graph, graph.T)


def _spectrum(affinity: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The smallest ``count`` eigenvalues and eigenvectors of the graph Laplacian."""
    laplacian = np.diag(affinity.sum(axis=1)) - affinity
    values, vectors = np.linalg.eigh(laplacian)
    return values[:count], vectors[:, :count]


def estimate(similarity: np.ndarray, low: int, high: int) -> tuple[int, np.ndarray]:
    """The speaker count (within ``[low, high]``) and the spectral embedding, by the pruning whose largest
    eigengap is most pronounced relative to how much was pruned."""
    n = len(similarity)
    high = min(high, n - 1)
    best: tuple[float, int, np.ndarray] | None = None
    for keep in PRUNE_FRACTIONS:
        values, vectors = _spectrum(_pruned_affinity(similarity, keep), high + 1)
        gaps = np.diff(values)
        candidates = np.arange(low - 1, high)
        pick = int(candidates[np.argmax(gaps[candidates])])
        ratio = keep / (gaps[pick] / (values[-1] + 1e-10) + 1e-10)
        if best is None or ratio < best[0]:
            best = (ratio, pick + 1, vectors)
    assert best is not None
    return best[1], best[2][:, :best[1]]


def kmeans(points: np.ndarray, count: int, iterations: int = 50) -> np.ndarray:
    """Labels from k-means with farthest-point initialisation (deterministic)."""
    centres = [points[0]]
    for _ in range(1, count):
        distance = np.min([np.sum((points - c) ** 2, axis=1) for c in centres], axis=0)
        centres.append(points[int(np.argmax(distance))])
    centre = np.asarray(centres)
    labels = np.zeros(len(points), dtype=int)
    for _ in range(iterations):
        labels = np.argmin(((points[:, None, :] - centre[None]) ** 2).sum(-1), axis=1)
        new = np.asarray([points[labels == k].mean(0) if np.any(labels == k) else centre[k] for k in range(count)])
        if np.allclose(new, centre):
            break
        centre = new
    return labels


def spectral_cluster(embeddings: np.ndarray, low: int, high: int) -> np.ndarray:
    """Speaker index per embedding; the count is estimated between ``low`` and ``high`` (fixed when equal)."""
    n = len(embeddings)
    if n < 3 or high <= 1:
        return np.zeros(n, dtype=int)
    unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    count, vectors = estimate(similarity, max(1, low), max(low, high))
    if count <= 1:
        return np.zeros(n, dtype=int)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return np.unique(kmeans(vectors, count), return_inverse=True)[1]
