"""Run Python code in a subprocess where only the model libraries are importable (issue 16's lean imports).

Audio decoding, the store and sessions, MCP, LangChain and the other service dependencies are made
unimportable by putting ``None`` in ``sys.modules`` (the way ``importlib`` itself marks a missing module,
so probes such as ``importlib.util.find_spec`` report them absent instead of failing).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BLOCKED = ("soundfile", "soxr", "av", "mcp", "aero_mcp", "langchain", "langchain_core", "langchain_aero", "langgraph",
           "jsonschema", "psutil", "platformdirs", "anyio", "aero_agent.audio", "aero_agent.session",
           "aero_agent.store", "aero_agent.cli")
PRELUDE = f"import sys\nfor _name in {BLOCKED!r}:\n    sys.modules[_name] = None\n"


def run_lean(code: str, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``code`` run by this interpreter with :data:`BLOCKED` unimportable and the repository on the path."""
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")]), **(env or {})}
    return subprocess.run([sys.executable, "-c", PRELUDE + code], capture_output=True, text=True, timeout=timeout,
                          env=full_env, cwd=str(REPO))
