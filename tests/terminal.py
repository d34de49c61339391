"""A program run on a pseudo-terminal, as a person at a terminal runs it: it sees a tty on stdin, stdout and
stderr (so it prompts and edits lines), and the test types into it and reads what it shows."""

from __future__ import annotations

import os
import re
import select
import subprocess
import time
from typing import Sequence

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r")


class Terminal:
    """``argv`` on a new pseudo-terminal; :meth:`expect` waits for text, :meth:`type` sends keys."""

    def __init__(self, argv: Sequence[str], timeout_s: float = 240.0, env: dict[str, str] | None = None) -> None:
        self.timeout_s = timeout_s
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen(list(argv), stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                                     start_new_session=True, env={**os.environ, "TERM": "xterm", **(env or {})})
        os.close(slave)
        self.seen = ""  # everything shown so far, escape sequences and carriage returns removed
        self._read_to = 0

    def _pump(self, wait_s: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], wait_s)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 1 << 16)
        except OSError:  # the program exited and closed the terminal
            chunk = b""
        if not chunk:
            return False
        self.seen += ANSI.sub("", chunk.decode("utf-8", "replace"))
        return True

    def expect(self, text: str) -> str:
        """Wait until ``text`` is shown after what earlier calls consumed; returns the output up to its end."""
        deadline = time.monotonic() + self.timeout_s
        while text not in self.seen[self._read_to:]:
            if time.monotonic() > deadline or (not self._pump(0.2) and self.proc.poll() is not None):
                raise AssertionError(f"never shown: {text!r}; the terminal shows:\n{self.seen[self._read_to:]}")
        end = self.seen.index(text, self._read_to) + len(text)
        shown, self._read_to = self.seen[self._read_to:end], end
        return shown

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def command(self, line: str, prompt: str = "\n> ") -> str:
        """Type ``line`` and Enter, and return what is shown until the next prompt."""
        self.type(line + "\r")
        return self.expect(prompt)

    def wait(self) -> int:
        """The exit status, once the program has ended (it is killed after the timeout)."""
        deadline = time.monotonic() + self.timeout_s
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._pump(0.1)
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait()
        while self._pump(0):
            pass
        os.close(self.master)
        return code
