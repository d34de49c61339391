"""What every tool, resource and prompt shares: the server's state, the prepared session, error mapping, the
registry that puts module-level functions onto one server.

A tool is an ``async def`` at module level in the module of its concern, decorated with :func:`tool`. It
reaches the server's state through one parameter: ``app: App`` (the state, for tools that do not work on one
session) or ``call: Session`` (the session named by its ``session_id`` argument, loaded after waiting up to
its ``wait_s`` argument, with the call's deadline). Both are filled by the SDK's dependency mechanism
(``Resolve``) from the lifespan context; the decorator turns any failure into one actionable ``ToolError``.
"""

# No ``from __future__ import annotations``: the SDK reads these signatures at registration time.

import contextlib
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resolve import Resolve
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from aero_agent.results import SessionInfo
from aero_agent.session import MAX_QUESTION_CHARS, AudioSession
from aero_agent.speakers.base import MAX_SPEAKERS
from aero_mcp.backend import Backend, explain, is_expected
from aero_mcp.config import ServerConfig

log = logging.getLogger("aero_mcp")
T = TypeVar("T")


@dataclass(frozen=True)
class AppState:
    """What the lifespan yields: the backend that owns the session store, and the server's settings; with
    tenants, the caller's tenant and (on the server's own state) every tenant's state."""

    backend: Backend
    config: ServerConfig
    tenant: Any = None  # aero_mcp.tenants.Tenant
    tenancy: Any = None  # aero_mcp.callers.Tenancy, on the server's own state when it has several tenants

    @property
    def roots(self) -> list[Path]:
        return self.config.allow_dirs

    async def for_caller(self, request_context: Any = None) -> "AppState":
        """The state of the calling principal's tenant (this one when the server has a single tenant)."""
        if self.tenancy is None:
            return self
        return await self.tenancy.state_for_request(request_context)


async def app_state(ctx: Context) -> AppState:
    root = ctx.request_context.lifespan_context
    with mapped_errors("finding the caller's tenant", root.roots):  # a tenant's store opens on its first call
        return await root.for_caller(ctx.request_context)


App = Annotated[AppState, Resolve(app_state)]


@contextlib.contextmanager
def mapped_errors(op: str, roots: list[Path]) -> Iterator[None]:
    """Any failure of ``op`` as a ``ToolError`` that says what went wrong and what to do next."""
    try:
        yield
    except ToolError:
        raise
    except Exception as exc:
        if is_expected(exc):
            log.debug("%s refused: %s", op, exc)
        else:
            log.exception("%s failed unexpectedly", op)
        raise ToolError(explain(exc, roots)) from exc


def progress_sink(ctx: Context | None) -> Callable[[SessionInfo], Awaitable[None]]:
    """Encoding progress as MCP progress notifications (when the client asked for them)."""
    async def report(info: SessionInfo) -> None:
        if ctx is None:
            return
        try:
            await ctx.report_progress(round(info.progress * 100, 1), 100,
                                      f"encoding {info.windows_done}/{info.windows_total} windows")
        except Exception as exc:  # noqa: BLE001 - progress is best effort
            log.debug("could not send progress: %s", exc)
    return report


@dataclass
class Prepared:
    """One tool call on one session: the state, the session, and the deadline every phase of the call shares."""

    app: AppState
    session: AudioSession
    deadline: float

    @property
    def roots(self) -> list[Path]:
        return self.app.roots

    @property
    def info(self) -> SessionInfo:
        """A snapshot of the session's status (the session itself may be encoding on)."""
        return self.session.info.model_copy()

    async def run(self, fn: Callable[..., T], *args: Any, what: str, **kwargs: Any) -> T:
        """Run a blocking core call on a worker thread within the call's deadline."""
        return await self.app.backend.run(fn, *args, deadline=self.deadline, what=what, **kwargs)


async def prepare_session(session_id: str, wait_s: float | None, ctx: Context, app: App) -> Prepared:
    """The session a call names, after waiting for its encoding when the caller asked to (``wait_s``)."""
    with mapped_errors("loading the session", app.roots):
        backend = app.backend
        deadline = backend.deadline(wait_s)
        store = await backend.store(deadline)
        if wait_s:
            await backend.wait_encoded(session_id, wait_s, progress_sink(ctx), deadline, reserve_s=5.0)
        session = await backend.run(store.get, session_id, deadline=deadline, what="loading the session")
        return Prepared(app, session, deadline)


Session = Annotated[Prepared, Resolve(prepare_session)]

# ----- argument types shared by several tools (the JSON Schema the model sees) -----------------------------
SessionId = Annotated[str, Field(min_length=1, max_length=128,
                                 description="The session id returned by open_audio or list_audio_sessions.")]
WaitS = Annotated[float | None, Field(
    ge=0,
    description="Seconds to wait for a session that is still encoding before answering (capped at about 50). "
                "Leave empty not to wait: the part encoded so far is used.")]

SpeakersArg = Annotated[bool, Field(description="Find who speaks when: every segment gets a speaker label "
                                                "(SPEAKER_00, ...), split where the speaker changes.")]
NumSpeakers = Annotated[int | None, Field(ge=1, le=MAX_SPEAKERS, description=(
    "The number of speakers, when known (implies speakers); empty: found automatically."))]


def text_arg(description: str) -> Any:
    """A non-empty text argument (a question, a query, an instruction) of at most ``MAX_QUESTION_CHARS``."""
    return Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS, description=description)]


READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
ADDS_TURN = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False,
                            open_world_hint=False)
OPENS = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
DELETES = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)


def result(model: BaseModel, text: str) -> CallToolResult:
    """Structured content (the model) plus a readable text block."""
    return CallToolResult(content=[TextContent(type="text", text=text)],
                          structured_content=model.model_dump(mode="json"))


# ----- the registry ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """One function to put on the server: how (``kind``) and with which options."""

    kind: Literal["tool", "resource", "prompt"]
    fn: Callable[..., Any]
    options: dict[str, Any] = field(default_factory=dict)
    needs_state: bool = False


ENTRIES: list[Entry] = []
"""Everything the modules of the server declared, in declaration order."""


def _state_parameter(fn: Callable[..., Any]) -> str:
    for name, param in inspect.signature(fn, eval_str=True).parameters.items():
        if param.annotation in (App, Session):
            return name
    raise TypeError(f"tool {fn.__name__} takes neither `app: App` nor `call: Session`")


def tool(title: str, annotations: ToolAnnotations) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a tool: its docstring, dedented, is the description the model reads; failures become one
    actionable ``ToolError``."""
    def declare(fn: Callable[..., Any]) -> Callable[..., Any]:
        state = _state_parameter(fn)

        @functools.wraps(fn)
        async def run(**kwargs: Any) -> Any:
            with mapped_errors(fn.__name__, kwargs[state].roots):
                return await fn(**kwargs)

        ENTRIES.append(Entry("tool", run, {"title": title, "annotations": annotations,
                                           "description": inspect.cleandoc(fn.__doc__ or "")}))
        return fn
    return declare


def resource(uri: str, *, needs_state: bool = False, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a resource. The SDK gives static resources (no ``{...}`` in ``uri``) no ``Context``, so those
    say ``needs_state`` and get the state as their first argument."""
    def declare(fn: Callable[..., Any]) -> Callable[..., Any]:
        ENTRIES.append(Entry("resource", fn, {"uri": uri, **options}, needs_state))
        return fn
    return declare


def prompt(**options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a prompt; its docstring is its description."""
    def declare(fn: Callable[..., Any]) -> Callable[..., Any]:
        ENTRIES.append(Entry("prompt", fn, options))
        return fn
    return declare


def register_all(server: MCPServer, state: AppState) -> None:
    """Put every declared tool, resource and prompt on ``server``."""
    for entry in ENTRIES:
        fn = _bound(entry.fn, state) if entry.needs_state else entry.fn
        getattr(server, entry.kind)(**entry.options)(fn)


def _bound(fn: Callable[..., Awaitable[Any]], state: AppState) -> Callable[[], Awaitable[Any]]:
    @functools.wraps(fn)
    async def read() -> Any:
        return await fn(await state.for_caller())

    del read.__wrapped__  # the SDK would read the state parameter off the original's signature
    return read
