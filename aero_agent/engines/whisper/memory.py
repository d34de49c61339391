"""Keep transcription's memory down: the C heap's handling of large, short-lived tensors (below), the
encoder's rows at a time (``ENCODER_ROWS``), and batch rows packed in place of copied (``PackedRows``).

Measured on 15 minutes of speech (whole process, model included, 2 workers): peak RSS 1.74 GB before these
and the aligner's changes, the largest part two workers' batches at once: each held its cross-attention keys
and values (141 MB for 8 windows of tiny.en), a copy of them for the aligner (141 MB), the shrinking copies
that decoding makes as windows finish (up to 190 MB), the encoder's activations (220 MB) and the attention
weights of every head of the teacher-forced pass (126 MB).

glibc serves an allocation from its heap arenas unless it is larger than the mmap threshold, and that
threshold grows (up to 32 MiB) each time a large block is freed. The encoder's and decoder's tensors of a
batch (features, activations, cross-attention keys and values: 1-40 MB each) then land in the arenas of two
worker threads, and the memory they leave is kept: measured on 5 minutes of speech, peak RSS 1.94 GB, still
1.75 GB after the run. A fixed 4 MiB threshold gives such tensors pages of their own that go back to the
system when freed: peak 1.25 GB, 0.88 GB after the run, for about 2 % more CPU time (fresh pages are zeroed).

Two batches in flight peak together now and then, and a longer recording has more chances for their worst
moments to meet: the peak of 60 min sat 360 MB above the samples and the model, 15 min's 310 MB. What each
batch holds at its worst was cut in turn (one worker alone on 5 min of speech, loaded machine, MB above the
loaded engine while encoding / projecting keys and values / decoding / aligning words: 103 / 205 / 210 / 237
before): the encoder states are freed once projected into keys and values; each window is projected on its
own (one window's projection is the only copy); the aligner keeps its attention weights in float16 and takes
token probabilities 32 tokens at a time; oneDNN's kernel cache is capped (``bound_kernel_cache``). Whole
process after them (``benchmarks/asr.py``, idle machine, next to faster-whisper batched): 15 min 1086 MB against
1412, 60 min 1256 MB against 1540.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys

import torch

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
MMAP_THRESHOLD_BYTES = 4 * 2**20

_done = False


def release_large_blocks(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Fix glibc's mmap threshold at ``threshold`` bytes for this process (once; not on other C libraries,
    nor when the user set ``MALLOC_MMAP_THRESHOLD_`` already). Whether it is in effect."""
    global _done
    if _done:
        return True
    mallopt = None if "MALLOC_MMAP_THRESHOLD_" in os.environ else _libc_function("mallopt")
    if mallopt is None:  # not glibc, or the user's own setting
        return False
    _done = bool(mallopt(M_MMAP_THRESHOLD, threshold))
    return _done


ONEDNN_CACHE_ENV = "ONEDNN_PRIMITIVE_CACHE_CAPACITY"
ONEDNN_CACHE_PRIMITIVES = 64
"""oneDNN keeps every kernel it builds for a new input shape (1024 by default). The bfloat16 encoder builds about
13 for each encoder input length (matrix products, convolutions, GELU, layout reorders), and doubtful and
repair windows are encoded at the length of their batch's longest, so a long recording's cache grows with its
number of distinct lengths: on 60 min of speech (loaded machine, whole runs) peak RSS 1348 MB with the
default, 1312 MB with 8 kernels. 64 hold the 30 s window's kernels and a few other lengths'."""


def bound_kernel_cache(capacity: int = ONEDNN_CACHE_PRIMITIVES) -> bool:
    """Cap oneDNN's kernel cache at ``capacity`` primitives for this process, unless the user set
    ``ONEDNN_PRIMITIVE_CACHE_CAPACITY``. oneDNN reads the variable when it first builds a kernel, so this takes
    effect only before the first bfloat16 or convolution op of the process; whether it was set here."""
    if ONEDNN_CACHE_ENV in os.environ:
        return False
    os.environ[ONEDNN_CACHE_ENV] = str(capacity)
    return True


def trim_heap() -> bool:
    """Hand the free pages inside glibc's heap arenas back to the system (``malloc_trim``). Blocks under the
    mmap threshold (a decoder step's logits, a layer's small activations) leave holes in the arenas of the
    worker threads that the next batch only partly fills: on 15 minutes of speech 140 MB of them were free
    at the peak. Whether it could run."""
    trim = _libc_function("malloc_trim")
    if trim is None:
        return False
    trim(0)
    return True


@functools.lru_cache(maxsize=None)
def _libc_function(name: str) -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    """glibc's ``name``, looked up once (``find_library`` runs ``ldconfig``; ``trim_heap`` runs every batch)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):  # musl and others
        return None


ENCODER_ROWS = 2
"""Windows that go through the log-mel features and the encoder together. The encoder's activations grow with
the rows (a 30 s window of tiny.en: 1500 frames x 1536 feed-forward units, 9 MB per tensor), so a batch of 8
at once peaked 220 MB above its inputs, 2 at a time 75 MB (4 at a time: 120 MB); every window's features and
states are the same bit for bit, and the matrix products stay large enough to cost no more CPU time."""


class PackedRows:
    """Batch-first tensors (the decoder's cross-attention keys and values) whose rows still in use are moved to
    the front in place, so dropping finished rows from a batch makes no new copy of them.

    ``keep(slots)`` packs the given rows (positions among those in use, in order) to the front and returns
    the tensors cut to them, as ``index_select`` would; ``restore()`` puts every row back where it was. Each
    move gathers one tensor at a time, so the extra memory is one tensor's rows, not a copy of them all."""

    def __init__(self, tensors: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.tensors = tensors
        self.order = list(range(tensors[0][0].shape[0]))  # which original row each stored row holds
        self.used = len(self.order)

    def keep(self, slots: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        kept = set(slots)
        rest = [s for s in range(self.used) if s not in kept]
        self._permute(slots + rest)
        self.used = len(slots)
        return self.view()

    def view(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The tensors cut to the rows in use."""
        return [(k[: self.used], v[: self.used]) for k, v in self.tensors]

    def restore(self) -> None:
        """Every row back in its original place (the tensors as they were given)."""
        where = {row: place for place, row in enumerate(self.order)}
        self.used = len(self.order)
        self._permute([where[row] for row in range(len(self.order))])

    def _permute(self, source: list[int]) -> None:
        """Stored row ``i`` becomes stored row ``source[i]`` (for the first ``len(source)`` rows)."""
        if source == list(range(len(source))):
            return
        index = torch.tensor(source)
        for pair in self.tensors:
            for t in pair:
                t[: len(source)] = t.index_select(0, index)
        self.order[: len(source)] = [self.order[s] for s in source]
