"""Grouping speaker embeddings: average-linkage agglomeration with a distance threshold for the automatic
count (bounded or fixed by the caller), then k-means on the sphere to settle each window on its nearest
speaker centroid (the way pyannote refines agglomerative clusters and VBx starts from them)."""

from __future__ import annotations

import numpy as np

MAX_AGGLOMERATED = 1500  # above this, agglomerate an even subset (memory is quadratic) and assign the rest


def cosine_distances(embeddings: np.ndarray) -> np.ndarray:
    unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    return np.clip(1.0 - unit @ unit.T, 0.0, 2.0)


def agglomerate(embeddings: np.ndarray, threshold: float, min_clusters: int, max_clusters: int) -> np.ndarray:
    """Cluster labels ``0..k-1``: merge the closest pair (average linkage, cosine distance) while more than
    ``max_clusters`` remain, or while the closest pair is nearer than ``threshold`` and more than
    ``min_clusters`` remain."""
    n = len(embeddings)
    dist = cosine_distances(embeddings).astype(np.float64)
    np.fill_diagonal(dist, np.inf)
    sizes = np.ones(n)
    owner = np.arange(n)  # each embedding's current cluster representative
    active = n
    while active > 1:
        flat = int(np.argmin(dist))
        i, j = divmod(flat, n)
        if active <= max_clusters and (dist[i, j] > threshold or active <= min_clusters):
            break
        merged = (sizes[i] * dist[i] + sizes[j] * dist[j]) / (sizes[i] + sizes[j])  # Lance-Williams, average
        dist[i], dist[:, i] = merged, merged
        dist[i, i] = np.inf
        dist[j], dist[:, j] = np.inf, np.inf
        sizes[i] += sizes[j]
        owner[owner == j] = i
        active -= 1
    _, labels = np.unique(owner, return_inverse=True)
    return labels


def centroids(embeddings: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """Unit-length mean embedding of each cluster ``0..count-1``."""
    sums = np.zeros((count, embeddings.shape[1]))
    np.add.at(sums, labels, embeddings)
    return sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)


def settle(embeddings: np.ndarray, labels: np.ndarray, iterations: int = 10) -> np.ndarray:
    """Move each embedding to its nearest centroid until nothing moves (spherical k-means from ``labels``)."""
    for _ in range(iterations):
        count = int(labels.max()) + 1
        moved = np.argmax(embeddings @ centroids(embeddings, labels, count).T, axis=1)
        _, moved = np.unique(moved, return_inverse=True)  # a cluster that empties is dropped
        if np.array_equal(moved, labels):
            break
        labels = moved
    return labels


def absorb_small(embeddings: np.ndarray, labels: np.ndarray, min_size: int, min_clusters: int) -> np.ndarray:
    """Give the members of clusters with fewer than ``min_size`` members to the nearest larger cluster
    (a speaker heard in one or two windows is far more often noise than a person), keeping at least
    ``min_clusters`` clusters."""
    sizes = np.bincount(labels)
    order = np.argsort(sizes)
    small = [c for c in order if sizes[c] < min_size][: max(0, len(sizes) - max(min_clusters, 1))]
    large = [c for c in range(len(sizes)) if c not in small]
    if not small or not large:
        return labels
    hub = centroids(embeddings, labels, len(sizes))[large]
    labels = labels.copy()
    for c in small:
        members = labels == c
        labels[members] = np.asarray(large)[np.argmax(embeddings[members] @ hub.T, axis=1)]
    return np.unique(labels, return_inverse=True)[1]


def cluster(embeddings: np.ndarray, threshold: float, min_clusters: int, max_clusters: int,
            min_size: int) -> np.ndarray:
    """Speaker index for each embedding, with a count between the bounds (never more than the embeddings)."""
    n = len(embeddings)
    if n == 0:
        return np.zeros(0, dtype=int)
    low, high = min(min_clusters, n), min(max_clusters, n)
    subset = np.linspace(0, n - 1, min(n, MAX_AGGLOMERATED)).round().astype(int)
    seed = agglomerate(embeddings[subset], threshold, low, high)
    labels = np.argmax(embeddings @ centroids(embeddings[subset], seed, int(seed.max()) + 1).T, axis=1)
    labels = np.unique(labels, return_inverse=True)[1]
    labels = settle(embeddings, labels)
    if min_size > 1:
        labels = settle(embeddings, absorb_small(embeddings, labels, min_size, low))
    return labels
