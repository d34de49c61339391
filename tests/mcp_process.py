"""``aero-mcp`` over streamable HTTP as a real subprocess on a free loopback port, for the tests: started with the
given options, waited for, and stopped (terminated, killed 20 s later) afterwards."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcp_driver import REPO


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def http_server(root: Path, *options: str, timeout_s: float = 120) -> Iterator[dict[str, Any]]:
    """``python -m aero_mcp --transport streamable-http --port <free> *options``, its stdout and stderr in
    ``root/stdout.log`` and ``root/stderr.log``; yields its ``url``, ``port`` and ``proc`` once the port accepts
    connections."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "mcp_server"),
                                                       os.environ.get("PYTHONPATH", "")]))
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.pop("AERO_MCP_AUTH_TOKEN", None)
    log = root / "stderr.log"
    with open(root / "stdout.log", "w") as out, open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "aero_mcp", "--transport", "streamable-http", "--port",
                                 str(port), *options], stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"aero-mcp did not start: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield {"url": f"http://127.0.0.1:{port}/mcp", "port": port, "proc": proc}
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """Terminate, and kill what is still running 20 s later."""
    proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=20)
    if proc.poll() is None:
        proc.kill()
    proc.wait()
