"""A KV cache that grows in place, crops for free, and round-trips through plain tensors.

transformers' ``DynamicCache`` concatenates on every decoding step, copying the whole 22.5k-token
audio prefix per generated token. :class:`GrowableCache` keeps one preallocated buffer per layer
(grown geometrically when full) and hands the attention the filled view.
"""

from __future__ import annotations

import torch
from transformers.cache_utils import Cache, DynamicLayer

_MIN_GROWTH = 256


class GrowableLayer(DynamicLayer):
    """One layer's keys and values in a ``(1, kv_heads, capacity, head_dim)`` buffer filled up to ``length``."""

    def __init__(self, reserve: int = 0) -> None:
        super().__init__()
        self.reserve = reserve
        self.length = 0
        self._k: torch.Tensor | None = None
        self._v: torch.Tensor | None = None

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.device = key_states.device
        self.is_initialized = True

    def _ensure(self, needed: int, like_k: torch.Tensor, like_v: torch.Tensor) -> None:
        capacity = 0 if self._k is None else self._k.shape[-2]
        if needed <= capacity:
            return
        new_cap = max(needed, self.reserve, capacity + max(_MIN_GROWTH, capacity // 2))
        shape_k = (*like_k.shape[:-2], new_cap, like_k.shape[-1])
        shape_v = (*like_v.shape[:-2], new_cap, like_v.shape[-1])
        k = torch.empty(shape_k, dtype=like_k.dtype, device=like_k.device)
        v = torch.empty(shape_v, dtype=like_v.dtype, device=like_v.device)
        if self.length:
            k[..., : self.length, :] = self._k[..., : self.length, :]
            v[..., : self.length, :] = self._v[..., : self.length, :]
        self._k, self._v = k, v

    def _publish(self) -> None:
        self.keys = self._k[..., : self.length, :]
        self.values = self._v[..., : self.length, :]

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        n = key_states.shape[-2]
        self._ensure(self.length + n, key_states, value_states)
        self._k[..., self.length: self.length + n, :] = key_states
        self._v[..., self.length: self.length + n, :] = value_states
        self.length += n
        self._publish()
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.length

    def crop(self, tokens_to_remove: int) -> None:
        if tokens_to_remove > 0:
            raise ValueError("crop takes a negative number of tokens to remove")
        if tokens_to_remove == 0 or not self.is_initialized:
            return
        self.length = max(0, self.length + tokens_to_remove)
        self._publish()

    def reset(self) -> None:
        self.length = 0
        self._k = self._v = None
        self.keys = self.values = None
        self.is_initialized = False

    def load(self, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Fill from saved ``(1, kv_heads, n, head_dim)`` tensors (already on the right device/dtype)."""
        self.reset()
        self.update(keys, values)


class GrowableCache(Cache):
    """A cache of :class:`GrowableLayer`, one per decoder layer, with ``reserve`` slots allocated up front."""

    def __init__(self, num_layers: int, reserve: int = 0) -> None:
        super().__init__(layers=[GrowableLayer(reserve) for _ in range(num_layers)])

    def truncate(self, length: int) -> None:
        """Keep the first ``length`` positions."""
        current = self.get_seq_length()
        if length < current:
            self.crop(length - current)

    def layer_tensors(self, start: int = 0, end: int | None = None,
                      device: torch.device | str | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Contiguous copies (never views of the live buffers) of positions ``start:end`` per layer."""
        out = []
        for layer in self.layers:
            stop = layer.length if end is None else end
            k, v = layer.keys[..., start:stop, :], layer.values[..., start:stop, :]
            if device is not None and torch.device(device) != k.device:
                k, v = k.to(device), v.to(device)  # a cross-device copy: no second copy on the GPU
            else:
                k, v = k.clone(), v.clone()
            out.append((k.contiguous(), v.contiguous()))
        return out

    def append(self, parts: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Append saved per-layer ``(keys, values)`` after the current contents."""
        for layer, (k, v) in zip(self.layers, parts):
            layer.update(k, v)


def kv_names(prefix: str, layer: int) -> tuple[str, str]:
    """Tensor names under which a layer's keys and values are stored in ``EncodedAudio.tensors``."""
    return f"{prefix}.{layer}.k", f"{prefix}.{layer}.v"


def to_tensors(parts: list[tuple[torch.Tensor, torch.Tensor]], prefix: str) -> dict[str, torch.Tensor]:
    """``{prefix.i.k, prefix.i.v}`` CPU tensors, contiguous, ready for safetensors."""
    out: dict[str, torch.Tensor] = {}
    for i, (k, v) in enumerate(parts):
        kn, vn = kv_names(prefix, i)
        out[kn] = k.detach().to("cpu").contiguous()
        out[vn] = v.detach().to("cpu").contiguous()
    return out


def from_tensors(tensors: dict[str, torch.Tensor], prefix: str, num_layers: int, device: torch.device,
                 dtype: torch.dtype) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
    """The per-layer parts saved by :func:`to_tensors`, or None when any is absent."""
    parts = []
    for i in range(num_layers):
        kn, vn = kv_names(prefix, i)
        if kn not in tensors or vn not in tensors:
            return None
        parts.append((tensors[kn].to(device=device, dtype=dtype), tensors[vn].to(device=device, dtype=dtype)))
    return parts


def common_prefix(a: list[int], b: list[int]) -> int:
    """Length of the longest common prefix of two id lists."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i
