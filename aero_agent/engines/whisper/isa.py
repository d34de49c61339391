"""Which vector instructions the engine's kernels may use on this CPU, as torch was told at start-up.

The CPU's own flags (``/proc/cpuinfo``) say what the hardware has; ``ATEN_CPU_CAPABILITY`` (torch),
``ONEDNN_MAX_CPU_ISA`` (oneDNN) and ``CT2_FORCE_CPU_ISA`` (CTranslate2) can hold a process below that, e.g. to
measure the AVX2 path on an AVX-512 machine. Every per-ISA choice reads :func:`cpu_isa`, which honours the
cap: torch's own ``torch.cpu._is_avx512_bf16_supported()`` reads the hardware flags and would send a capped run
down the bfloat16 path a real AVX2 machine never takes.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CAP_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "CT2_FORCE_CPU_ISA")
AVX2_CAP = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "CT2_FORCE_CPU_ISA": "AVX2"}
"""The environment that holds torch, oneDNN and CTranslate2 to AVX2 (set before they are imported)."""
_SHOWN = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8", "avx_vnni",
          "neon", "asimd", "sve")


@dataclass(frozen=True)
class CpuIsa:
    """The CPU and the vector extensions the process's kernels use."""

    model: str
    flags: tuple[str, ...]
    """Of the vector extensions that matter here, those the hardware has."""
    capability: str
    """torch's kernel level in force (``AVX2``, ``AVX512``, ``DEFAULT`` on ARM...), after any cap."""
    cap: dict[str, str]
    """The cap variables set in the environment (empty: native)."""

    @property
    def capped(self) -> bool:
        return bool(self.cap)

    @property
    def avx512(self) -> bool:
        return self.capability.upper().startswith("AVX512")

    @property
    def native_bf16(self) -> bool:
        """bfloat16 products in hardware that the kernels in force may use: AMX tiles or AVX512-BF16, and
        torch not held below AVX-512."""
        return self.avx512 and bool({"amx_bf16", "amx_tile", "avx512_bf16"} & set(self.flags))

    @property
    def amx(self) -> bool:
        return self.avx512 and "amx_tile" in self.flags

    def describe(self) -> str:
        """One line for benchmark headers: the CPU, its extensions and the path the kernels take."""
        mode = "capped " + ", ".join(f"{k}={v}" for k, v in self.cap.items()) if self.cap else "native"
        return (f"{self.model}; extensions: {' '.join(self.flags) or 'none of ' + '/'.join(_SHOWN)}; "
                f"torch kernels {self.capability} ({mode})")


def cpu_flags() -> tuple[str, tuple[str, ...]]:
    """The CPU's model name and, of the vector extensions that matter here, those it has (torch not needed)."""
    model, flags = platform.processor() or platform.machine() or "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key in ("model name", "cpu model") and model in ("", "unknown", platform.machine(), platform.processor()):
                model = value.strip()
            elif key in ("flags", "features"):
                flags |= set(value.split())
    except OSError:
        pass
    return model, tuple(f for f in _SHOWN if f in flags)


@lru_cache(maxsize=1)
def cpu_isa() -> CpuIsa:
    """This process's :class:`CpuIsa` (read once)."""
    import torch

    model, flags = cpu_flags()
    cap = {k: os.environ[k] for k in CAP_VARIABLES if os.environ.get(k)}
    return CpuIsa(model=model, flags=flags, capability=str(torch.backends.cpu.get_cpu_capability()), cap=cap)
