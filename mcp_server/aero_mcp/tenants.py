"""Tenants: which principal sees which store, allowed folders and quotas.

Every authenticated caller belongs to one tenant, named by its token (``tenant:token`` lines of the token file,
or a claim of an OAuth access token). Each tenant has its own :class:`~aero_agent.SessionStore` folder, so its
sessions, library, tags, voices and vocabulary live apart from every other tenant's: an id, a name or a library
hit of another tenant is simply not in the caller's store and is answered exactly as one that never existed.

The default tenant is the server as it always was (``--store``, ``--allow-dir``, ``--max-sessions``...); stdio
and a token file of bare tokens only ever use it. Other tenants are described in a TOML file (``--tenants``)::

    [tenants.acme]
    store = "/srv/aero/acme"            # default: <--store>/.tenants/acme
    allow_dirs = ["/srv/audio/acme"]    # default: none (the tenant sends its audio: audio_base64, uploads)
    max_sessions = 200
    max_store_mb = 4096
    max_audio_hours_per_day = 10

A tenant named by a token but absent from the file gets the defaults (its own store, no folders, no quotas).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aero_mcp.config import ServerConfig
from aero_mcp.quotas import DailyAudio
from aero_mcp.uploads import Uploads

log = logging.getLogger("aero_mcp")

DEFAULT_TENANT = "default"
TENANT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TENANTS_FOLDER = ".tenants"  # dot-named: the default store never takes it for a session
UPLOADS_FOLDER = ".uploads"
_KEYS = {"store", "allow_dirs", "max_sessions", "max_store_mb", "max_audio_hours_per_day"}


class TenantConfigError(ValueError):
    """The tenants file or a tenant name cannot be used."""


@dataclass(frozen=True)
class TenantSpec:
    """One tenant as the operator described it; ``None`` fields take the server's (default tenant) or none."""

    name: str
    store: Path | None = None
    allow_dirs: tuple[Path, ...] | None = None
    max_sessions: int | None = None
    max_store_bytes: int | None = None
    max_audio_hours_per_day: float | None = None

    def config(self, base: ServerConfig) -> ServerConfig:
        """The server settings this tenant runs under: the server's, with its own store, folders and quotas."""
        if self.name == DEFAULT_TENANT:
            store = self.store or base.store_dir
            dirs = list(self.allow_dirs) if self.allow_dirs is not None else list(base.allow_dirs)
        else:
            store = self.store or base.store_dir / TENANTS_FOLDER / self.name
            dirs = list(self.allow_dirs or ())
        changes: dict[str, Any] = {"store_dir": Path(store), "allow_dirs": dirs}
        if self.max_sessions is not None or self.name != DEFAULT_TENANT:
            changes["max_sessions"] = self.max_sessions
        if self.max_store_bytes is not None or self.name != DEFAULT_TENANT:
            changes["max_store_bytes"] = self.max_store_bytes
        return dataclasses.replace(base, **changes)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not TENANT_NAME.match(name):
        raise TenantConfigError(f"tenant name {name!r} must be 1 to 64 letters, digits, '-' or '_'")
    return name


def load_tenants(path: Path | None) -> dict[str, TenantSpec]:
    """The tenants of a TOML file (see the module's docstring); ``{}`` without a file."""
    if path is None:
        return {}
    path = Path(path).expanduser()
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise TenantConfigError(f"cannot read the tenants file {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise TenantConfigError(f"the tenants file {path} is not valid TOML: {exc}") from exc
    table = data.get("tenants")
    if not isinstance(table, dict) or not table or set(data) - {"tenants"}:
        raise TenantConfigError(f"the tenants file {path} needs [tenants.<name>] tables and nothing else")
    return {check_name(name): _spec(name, fields, path) for name, fields in table.items()}


def _spec(name: str, fields: Any, path: Path) -> TenantSpec:
    where = f"[tenants.{name}] in {path}"
    if not isinstance(fields, dict):
        raise TenantConfigError(f"{where} must be a table")
    unknown = set(fields) - _KEYS
    if unknown:
        raise TenantConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
                                f"known: {', '.join(sorted(_KEYS))}")

    def number(key: str, kind: type) -> Any:
        value = fields.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 or \
                (kind is int and not isinstance(value, int)):
            raise TenantConfigError(f"{where}: {key} must be a positive {'whole ' if kind is int else ''}number")
        return value

    dirs = fields.get("allow_dirs")
    if dirs is not None and (not isinstance(dirs, list) or not all(isinstance(d, str) and d for d in dirs)):
        raise TenantConfigError(f"{where}: allow_dirs must be a list of folder paths")
    store = fields.get("store")
    if store is not None and (not isinstance(store, str) or not store):
        raise TenantConfigError(f"{where}: store must be a folder path")
    mb = number("max_store_mb", float)
    return TenantSpec(name=name, store=Path(store).expanduser() if store else None,
                      allow_dirs=None if dirs is None else tuple(Path(d).expanduser() for d in dirs),
                      max_sessions=number("max_sessions", int),
                      max_store_bytes=None if mb is None else int(mb * 2**20),
                      max_audio_hours_per_day=number("max_audio_hours_per_day", float))


def _overlap(outer: Path, inner: Path) -> bool:
    """Whether ``inner`` is ``outer`` or inside it, other than as a tenant folder of a store (``.tenants/x``)."""
    if inner == outer:
        return True
    return outer in inner.parents and inner.parent != outer / TENANTS_FOLDER


@dataclass(frozen=True)
class Tenant:
    """A tenant as the server runs it: its name, settings, daily audio meter and uploads."""

    name: str
    config: ServerConfig
    audio: DailyAudio
    uploads: Uploads

    @classmethod
    def of(cls, spec: TenantSpec, base: ServerConfig) -> Tenant:
        config = spec.config(base)
        folder = config.store_dir / UPLOADS_FOLDER
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return cls(spec.name, config, DailyAudio(config.store_dir / ".audio-usage.json", spec.max_audio_hours_per_day),
                   Uploads(folder, config.max_bytes, config.max_store_bytes))


class Tenants:
    """Every tenant the server knows, by name; the default tenant always among them."""

    def __init__(self, base: ServerConfig, specs: dict[str, TenantSpec] | None = None,
                 names: Iterable[str] = (), open_ended: bool = False) -> None:
        specs = dict(specs or {})
        for name in names:
            specs.setdefault(check_name(name), TenantSpec(name))
        specs.setdefault(DEFAULT_TENANT, TenantSpec(DEFAULT_TENANT))
        stores = [s.config(base).store_dir.expanduser().resolve() for s in specs.values()]
        for i, a in enumerate(stores):
            for b in stores[i + 1:]:
                if _overlap(a, b) or _overlap(b, a):
                    raise TenantConfigError(f"two tenants' stores overlap ({a} and {b}); give each its own folder")
        self.base = base
        self.specs = specs
        self.open_ended = open_ended  # any valid name is a tenant (with the defaults) unless the file lists them
        self._made: dict[str, Tenant] = {}
        self._lock = threading.Lock()

    @property
    def multi(self) -> bool:
        return len(self.specs) > 1 or self.open_ended

    def accepts(self, name: str) -> bool:
        return name in self.specs or (self.open_ended and bool(TENANT_NAME.match(name)))

    def get(self, name: str) -> Tenant | None:
        """The tenant called ``name``, or ``None`` for a name the server does not know."""
        if not self.accepts(name):
            return None
        with self._lock:
            spec = self.specs.setdefault(name, TenantSpec(name))
            if name not in self._made:
                self._made[name] = Tenant.of(spec, self.base)
            return self._made[name]

    @property
    def default(self) -> Tenant:
        tenant = self.get(DEFAULT_TENANT)
        assert tenant is not None
        return tenant
