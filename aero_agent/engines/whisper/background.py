"""Work started on a background thread while the engine loads, waited for where it is first needed."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Callable, TypeVar

from aero_agent.threads import torch_threads

T = TypeVar("T")


def in_background(build: Callable[[], T], name: str) -> Future[T]:
    """``build()`` run on a thread of its own with one torch thread (torch's thread count is per thread: the
    caller's is untouched); its result, or its exception, comes out of the future's ``result()``. Not a daemon
    thread: a process that exits while it builds waits for it (torch aborted the process when a daemon thread was
    still in its kernels at interpreter shutdown)."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            with torch_threads(1):
                future.set_result(build())
        except BaseException as exc:  # handed to whoever waits for the result
            future.set_exception(exc)

    threading.Thread(target=run, name=name).start()
    return future


def ready(value: T) -> Future[T]:
    """A future already holding ``value``."""
    future: Future[T] = Future()
    future.set_result(value)
    return future
