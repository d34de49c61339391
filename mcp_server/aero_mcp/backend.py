"""The store behind the server: engine loading, worker threads, time limits and readable errors.

The MCP layer stays thin: every audio operation is a call into :class:`aero_agent.SessionStore` or
:class:`aero_agent.AudioSession`. What lives here is only what a protocol server needs around them: the
speech model loads in the background so the server answers at once, blocking calls run on worker threads
with a time limit, and every failure becomes one sentence that says what went wrong and what to do.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from aero_agent import errors as E
from aero_agent.render import input_hints, with_next_step
from aero_agent.results import SessionInfo
from aero_agent.store import SessionStore
from aero_mcp.config import ServerConfig

log = logging.getLogger("aero_mcp")
T = TypeVar("T")
ProgressSink = Callable[[SessionInfo], Awaitable[None]]


class UserError(Exception):
    """A failure the caller can act on; its message is shown to the model as is."""


class Backend:
    """Owns the :class:`SessionStore`; creates it once the engine has loaded (in a background thread)."""

    def __init__(self, config: ServerConfig, *, engine: Any = None, store: SessionStore | None = None,
                 reasoner: Any = None) -> None:
        self.config = config
        self.reasoner = reasoner
        self._engine = engine
        self._store = store
        self._ready = threading.Event()
        self._load_error: BaseException | None = None
        self._started = False
        self._start_lock = threading.Lock()
        self._t0 = time.monotonic()
        self._limiter: anyio.CapacityLimiter | None = None
        if store is not None:
            self._ready.set()
            self._started = True
        elif engine is not None:
            self._make_store(engine)
            self._started = True

    # ----- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Load the engine and open the store in a background thread (idempotent)."""
        with self._start_lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._load, name="aero-mcp-load", daemon=True).start()

    def _load(self) -> None:
        try:
            from aero_agent.engines import load_engine

            t0 = time.monotonic()
            engine = load_engine(self.config.engine, self.config.model)
            log.info("loaded the %s engine (%s) in %.1f s", engine.name, engine.model_id, time.monotonic() - t0)
            self._make_store(engine)
        except BaseException as exc:  # noqa: BLE001 - reported to every caller instead
            self._load_error = exc
            log.error("could not load the %s engine: %s: %s", self.config.engine, type(exc).__name__, exc)
            self._ready.set()

    def _make_store(self, engine: Any) -> None:
        c = self.config
        store = SessionStore(c.store_dir, engine=engine, reasoner=self.reasoner, max_loaded=c.max_loaded,
                             max_sessions=c.max_sessions, max_store_bytes=c.max_store_bytes,
                             max_duration_s=c.max_duration_s, max_bytes=c.max_bytes)
        if store.interrupted:
            log.warning("%d session(s) were interrupted while encoding by an earlier stop and are marked "
                        "failed: %s", len(store.interrupted), ", ".join(store.interrupted))
        log.info("session store at %s (%d sessions)", c.store_dir, len(store.list()))
        self._store = store
        self._ready.set()

    def close(self, grace_s: float = 5.0) -> bool:
        """Stop the store: cancel running encodings and save loaded sessions (``SessionStore.shutdown(wait=False)``).

        Returns False when that has not finished after ``grace_s``. A cancelled encoding stops only at its next
        progress report, once the windows in hand are encoded (the Whisper engine encodes them in batches), which
        on a busy CPU can take longer than a client waits for the server to exit. The caller should then leave at
        once (``os._exit``): the store writes its files atomically and the next start reports the session as
        interrupted.
        """
        store = self._store
        if store is None:
            return True
        running = [i.id for i in store.list() if i.status == "encoding"]
        stopped = threading.Event()

        def stop() -> None:
            try:
                store.shutdown(wait=False)
            except Exception as exc:  # noqa: BLE001 - shutting down regardless
                log.warning("could not shut the session store down cleanly: %s: %s", type(exc).__name__, exc)
            finally:
                stopped.set()

        threading.Thread(target=stop, name="aero-mcp-shutdown", daemon=True).start()
        if stopped.wait(grace_s):
            if running:
                log.warning("stopped while %d session(s) were encoding (%s); open their files again",
                            len(running), ", ".join(running))
            return True
        log.warning("stopping while %d session(s) are still encoding (%s); the next start reports them as "
                    "interrupted", len(running), ", ".join(running))
        return False

    # ----- access -------------------------------------------------------------------------
    @property
    def roots(self) -> list[Path]:
        return self.config.allow_dirs

    def deadline(self, wait_s: float | None = None) -> float:
        """When a call must have returned (anyio clock): ``call_timeout_s`` from now, or the caller's capped
        ``wait_s`` when that is longer. Every phase of the call (model loading, decoding, waiting for the
        encoding, the work itself) shares this one budget, so no call outlives it."""
        asked = min(max(0.0, wait_s or 0.0), self.config.max_wait_s)
        return anyio.current_time() + max(self.config.call_timeout_s, asked)

    def _left(self, deadline: float | None, cap: float | None = None) -> float:
        cap = self.config.call_timeout_s if cap is None else cap
        return cap if deadline is None else max(0.5, min(cap, deadline - anyio.current_time()))

    async def store(self, deadline: float | None = None) -> SessionStore:
        """The store, waiting (within the call's budget) for the engine to finish loading."""
        if not self._ready.is_set():
            self.start()
            await anyio.to_thread.run_sync(self._ready.wait, self._left(deadline), abandon_on_cancel=True)
        if self._load_error is not None:
            exc = self._load_error
            raise UserError(f"EngineUnavailable: the {self.config.engine} engine could not be loaded "
                            f"({type(exc).__name__}: {exc}). Restart aero-mcp with a working --engine/--model.")
        if self._store is None:
            raise UserError(f"Loading: the speech model is still loading ({time.monotonic() - self._t0:.0f} s so "
                            "far). Call the tool again in a few seconds.")
        return self._store

    def store_now(self) -> SessionStore | None:
        """The store if it is ready, without waiting."""
        return self._store

    async def run(self, fn: Callable[..., T], *args: Any, deadline: float | None = None, what: str = "the call",
                  **kwargs: Any) -> T:
        """Run a blocking core call on a worker thread; stop waiting for it (the work goes on) at the deadline."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.config.max_workers)
        timeout = self._left(deadline)
        call = functools.partial(fn, *args, **kwargs)
        with anyio.move_on_after(timeout) as scope:
            return await anyio.to_thread.run_sync(call, limiter=self._limiter, abandon_on_cancel=True)
        assert scope.cancelled_caught
        raise UserError(f"StillWorking: {what} is taking longer than {timeout:.0f} s. It goes on in the background; "
                        "call the tool again in a little while (session_status shows the session's state).")

    async def wait_encoded(self, session_id: str, wait_s: float, on_progress: ProgressSink | None = None,
                           deadline: float | None = None, reserve_s: float = 0.0) -> SessionInfo:
        """Wait up to ``wait_s`` (capped, and leaving ``reserve_s`` of the call's budget) for a session to leave
        ``encoding``; report progress meanwhile."""
        store = await self.store(deadline)
        until = anyio.current_time() + min(max(0.0, wait_s), self.config.max_wait_s)
        if deadline is not None:
            until = min(until, deadline - reserve_s)
        last = -1.0
        while True:
            info = await self.run(store.status, session_id, what="reading the session status")
            if on_progress is not None and info.progress != last:
                last = info.progress
                await on_progress(info)
            remaining = until - anyio.current_time()
            if info.status != "encoding" or remaining <= 0:
                return info
            await anyio.sleep(min(0.25, remaining))


# ----- errors ------------------------------------------------------------------------------------
def hints(roots: list[Path]) -> dict[type, str]:
    """What to do about each kind of error, from this server: the core's input hints, then the tools and the
    server options that help."""
    table = input_hints(roots)
    for kind, option in ((E.PathNotAllowedError, "To allow another folder, restart aero-mcp with --allow-dir <folder>."),
                         (E.AudioTooLongError, "To accept longer recordings, restart aero-mcp with a higher "
                                               "--max-duration."),
                         (E.AudioTooLargeError, "To accept larger files, restart aero-mcp with a higher --max-size-mb.")):
        table[kind] = f"{table[kind]} {option}"
    table[E.SessionNotFoundError] = ("Call list_audio_sessions to see the sessions in the store, or open_audio to "
                                     "open the file again.")
    table[E.SourceChangedError] = "Call open_audio on the file again (with speakers=true) for a new session."
    table[E.StoreFullError] = ("Close sessions you no longer need with close_audio_session, or restart aero-mcp "
                               "with a higher --max-sessions or --max-store-mb.")
    return table


def explain(exc: BaseException, roots: list[Path]) -> str:
    """One actionable message for ``exc``: what failed, why, and what to do next."""
    name = type(exc).__name__.removesuffix("Error") or type(exc).__name__
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, E.AeroError):
        return f"{name}: {with_next_step(exc, hints(roots))}"
    if isinstance(exc, OSError):
        return f"{name}: {exc}. The session store could not be read or written; check the --store folder."
    return (f"InternalError: {type(exc).__name__}: {exc}. This is a bug in aero-mcp; the server keeps running. "
            "Please report it.")


def is_expected(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure of the request rather than a bug of the server."""
    return isinstance(exc, (UserError, E.AeroError, OSError))
