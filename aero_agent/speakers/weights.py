"""Where the GE2E voice encoder's weights are: the ``pretrained.pt`` that the ``resemblyzer`` wheel ships.

The package is located without importing it: importing ``resemblyzer`` imports ``webrtcvad``, which needs
``pkg_resources`` (gone from current setuptools), and we use none of its code.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

from aero_agent.errors import CheckpointError

PACKAGE = "resemblyzer"
WEIGHTS_NAME = "pretrained.pt"


def encoder_weights_path() -> Path:
    """The path of ``resemblyzer/pretrained.pt``; raises :class:`CheckpointError` when it is not installed."""
    spec = importlib.util.find_spec(PACKAGE)  # finds the folder without running its __init__
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    candidates = [Path(folder) / WEIGHTS_NAME for folder in folders]
    try:
        candidates += [Path(str(f.locate())) for f in importlib.metadata.files(PACKAGE) or []
                       if f.name == WEIGHTS_NAME]
    except importlib.metadata.PackageNotFoundError:
        pass
    for path in candidates:
        if path.is_file():
            return path
    raise CheckpointError(f"the speaker encoder weights ({PACKAGE}/{WEIGHTS_NAME}) are not installed; "
                          f"install the package: pip install {PACKAGE}")
