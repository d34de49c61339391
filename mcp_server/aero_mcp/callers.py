"""Who is calling: the access token the SDK's auth middleware accepted, its tenant and principal, and the
tenant's own server state (backend and store), made on a tenant's first call."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import anyio.to_thread
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken

from aero_mcp.backend import Backend, UserError
from aero_mcp.registry import AppState
from aero_mcp.tenants import DEFAULT_TENANT, Tenants

log = logging.getLogger("aero_mcp")

TENANT_CLAIM = "aero_tenant"
"""The key under which a verifier puts the caller's tenant into ``AccessToken.claims``."""


def caller_token(request_context: Any = None) -> AccessToken | None:
    """The access token of the request being served (``None`` on stdio or an open HTTP server)."""
    token = get_access_token()
    if token is not None:
        return token
    request = getattr(request_context, "request", None)
    user = getattr(request, "scope", {}).get("user") if request is not None else None
    return user.access_token if isinstance(user, AuthenticatedUser) else None


def tenant_of(token: AccessToken | None) -> str:
    return str((token.claims or {}).get(TENANT_CLAIM) or DEFAULT_TENANT) if token is not None else DEFAULT_TENANT


def principal_of(token: AccessToken | None) -> str | None:
    """Who the token stands for, as the audit log names it (never the token itself)."""
    if token is None:
        return None
    return token.subject or token.client_id


class Tenancy:
    """Each tenant's :class:`AppState`: the default tenant's is the server's own; another tenant's gets its own
    backend and store on its first call, on the engine the server already loaded."""

    def __init__(self, tenants: Tenants, root: AppState) -> None:
        self.tenants = tenants
        self.root = root
        self._states: dict[str, AppState] = {DEFAULT_TENANT: root}
        self._lock = anyio.Lock()

    async def state_for_request(self, request_context: Any = None) -> AppState:
        """The state of the tenant whose token the request being served carries."""
        return await self.state_for(caller_token(request_context))

    async def state_for(self, token: AccessToken | None) -> AppState:
        name = tenant_of(token)
        state = self._states.get(name)
        if state is not None:
            return state
        async with self._lock:
            if name not in self._states:
                self._states[name] = await self._make(name)
            return self._states[name]

    async def _make(self, name: str) -> AppState:
        tenant = self.tenants.get(name)
        if tenant is None:  # the verifiers accept only known tenants; this is a second line
            raise UserError(f"Unauthorized: unknown tenant {name!r}.")
        engine = (await self.root.backend.store()).engine
        backend = await anyio.to_thread.run_sync(
            lambda: Backend(tenant.config, engine=engine, reasoner=self.root.backend.reasoner))
        log.info("tenant %s: store at %s", name, tenant.config.store_dir)
        return AppState(backend, tenant.config, tenant=tenant)

    def close(self, grace_s: float = 5.0) -> bool:
        """Close every tenant's backend but the server's own (the caller closes that)."""
        clean = True
        for name, state in list(self._states.items()):
            if name != DEFAULT_TENANT:
                clean &= state.backend.close(grace_s)
        return clean
