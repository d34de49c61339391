"""Engines: the speech models behind sessions, loaded once per process and shared."""

from __future__ import annotations

import threading
from typing import Any

from aero_agent.engines.base import EncodedAudio, EncodeProgress, Engine, EngineCapabilities, EngineReply, ProgressFn
from aero_agent.errors import InvalidArgumentError

ENGINE_NAMES = ("whisper", "aero")
_cache: dict[tuple[str, str | None], Engine] = {}
_lock = threading.Lock()


def load_engine(name: str = "whisper", model: str | None = None, **options: Any) -> Engine:
    """The engine ``name`` with weights ``model`` (a local folder, or a hub id you name explicitly).

    ``whisper`` with no model is the embedded offline ``tiny.en``; ``base`` is the multilingual Whisper base of the
    ``aero-agent[base]`` extra; a CTranslate2 (faster-whisper) folder is converted once. Engines are cached per
    (name, model).
    """
    key = (name, None if model in (None, "", "embedded:tiny.en", "tiny.en") else str(model))
    if key[1] == "embedded:base":  # the id a stored session names is the same engine as --model base
        key = (name, "base")
    with _lock:
        if key in _cache and not options:
            return _cache[key]
        if name == "whisper":
            from aero_agent.engines.whisper import WhisperEngine

            engine: Engine = WhisperEngine(key[1], **options)
        elif name == "aero":
            if key[1] is None:
                raise InvalidArgumentError("the aero engine needs --model: a checkpoint folder or a hub id")
            from aero_agent.engines.aero import AeroEngine

            engine = AeroEngine(key[1], **options)
        else:
            raise InvalidArgumentError(f"unknown engine {name!r}; choose one of {', '.join(ENGINE_NAMES)}")
        if not options:
            _cache[key] = engine
        return engine


def hearing_no_events(engine: Engine) -> Engine:
    """A twin of ``engine`` (same model, weights and lock) that runs no sound-event detector, for output that
    shows no events; an engine without a detector as it is."""
    if getattr(engine, "sound_events", None) is None or not hasattr(engine, "variant"):
        return engine
    twin = engine.variant()  # type: ignore[attr-defined]
    twin.sound_events = None
    return twin


def default_engine() -> Engine:
    """The embedded offline Whisper ``tiny.en`` engine."""
    return load_engine("whisper")


__all__ = ["EncodedAudio", "EncodeProgress", "Engine", "EngineCapabilities", "EngineReply", "ProgressFn",
           "load_engine", "default_engine", "hearing_no_events", "ENGINE_NAMES"]
