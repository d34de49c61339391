"""Server settings: which folders may be read, where sessions live, which engine, and the limits."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from aero_agent.audio import DEFAULT_MAX_DURATION_S
from aero_agent.paths import allowed_roots

DEFAULT_MAX_BYTES = 2 * 1024**3
"""Largest audio file accepted, in bytes (2 GiB)."""

DEFAULT_OPEN_WAIT_S = 20.0
"""How long ``open_audio`` waits for a short recording to finish encoding before it returns."""

DEFAULT_SHORT_AUDIO_S = 180.0
"""Recordings up to this long are waited for by ``open_audio``; longer ones return at once."""

DEFAULT_MAX_WAIT_S = 50.0
"""Upper bound for any ``wait_s`` argument: desktop clients cancel a call after about 60 s."""

DEFAULT_CALL_TIMEOUT_S = 30.0
"""A tool's own work (transcribe, ask, ...) that takes longer returns a 'still working' error."""


def default_store_dir() -> Path:
    """``$AERO_MCP_STORE``, else ``$XDG_DATA_HOME/aero-mcp/sessions`` (``~/.local/share/...``)."""
    if os.environ.get("AERO_MCP_STORE"):
        return Path(os.environ["AERO_MCP_STORE"]).expanduser()
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "aero-mcp" / "sessions"


@dataclass
class ServerConfig:
    """Everything :func:`aero_mcp.create_server` needs. Paths are resolved on construction."""

    allow_dirs: list[Path] = field(default_factory=lambda: [Path.cwd()])
    store_dir: Path = field(default_factory=default_store_dir)
    engine: str = "whisper"
    model: str | None = None
    max_duration_s: float = DEFAULT_MAX_DURATION_S
    max_bytes: int | None = DEFAULT_MAX_BYTES
    max_loaded: int = 8
    max_sessions: int | None = None
    max_store_bytes: int | None = None
    open_wait_s: float = DEFAULT_OPEN_WAIT_S
    short_audio_s: float = DEFAULT_SHORT_AUDIO_S
    max_wait_s: float = DEFAULT_MAX_WAIT_S
    call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S
    max_workers: int = 4

    def __post_init__(self) -> None:
        self.allow_dirs = allowed_roots(self.allow_dirs)
        self.store_dir = Path(self.store_dir).expanduser().resolve()
        if self.max_wait_s <= 0 or self.call_timeout_s <= 0:
            raise ValueError("max_wait_s and call_timeout_s must be positive")
        self.open_wait_s = min(max(0.0, self.open_wait_s), self.max_wait_s)
        missing = [str(d) for d in self.allow_dirs if not d.is_dir()]
        if missing:
            raise ValueError(f"allowed folder(s) do not exist or are not folders: {', '.join(missing)}")
