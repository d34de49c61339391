"""AudioToolkit: the audio tools over one session store and one engine."""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool, BaseToolkit
from pydantic import ConfigDict, Field

from aero_agent.paths import allowed_roots
from aero_agent.store import SessionStore
from langchain_aero.tools import TOOLS
from langchain_aero.base import DEFAULT_MAX_OUTPUT_CHARS, AudioTool


def temporary_store(engine: Any = None, reasoner: Any = None, **options: Any) -> SessionStore:
    """A :class:`SessionStore` in a new temporary folder, deleted when the store is garbage-collected
    or the process exits."""
    root = tempfile.mkdtemp(prefix="aero-langchain-")
    store = SessionStore(root, engine=engine, reasoner=reasoner, **options)
    weakref.finalize(store, shutil.rmtree, root, True)
    return store


class AudioToolkit(BaseToolkit):
    """LangChain tools that give an agent ears, over one :class:`~aero_agent.SessionStore`.

    Args:
        engine: the engine new sessions are encoded with; ``None`` uses the store's engine, which is the
            embedded offline Whisper ``tiny.en`` unless the store was given another. Loaded lazily, on the
            first ``open_audio``.
        store: the session store; by default a new one in a temporary folder (deleted at exit).
        allowed_dirs: folders ``open_audio`` may read; default the current directory. ``..``, ``~`` and
            symlinks are resolved before the check.
        reasoner: a LangChain chat model used by sessions whose engine only transcribes (answers and
            extraction read the transcript). With ``store`` given, set it on the store instead.
        wait: ``open_audio`` waits until the recording is encoded (default); with ``False`` it returns at
            once and the session reports ``encoding`` with its progress.
        max_output_chars: longest text handed to the model by one tool call (artifacts stay whole).
        selected_tools: names of the tools :meth:`get_tools` returns (default: all of
            :data:`langchain_aero.tools.TOOLS`, in that order).

    Example:
        >>> toolkit = AudioToolkit(allowed_dirs=["~/recordings"])
        >>> tools = toolkit.get_tools()
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: SessionStore = Field(exclude=True)
    engine: Any = Field(default=None, exclude=True)
    allowed_dirs: list[Path]
    reasoner: Any = Field(default=None, exclude=True)
    wait: bool = True
    max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS
    selected_tools: list[str] | None = None

    def __init__(self, engine: Any = None, store: SessionStore | None = None,
                 allowed_dirs: Iterable[str | os.PathLike] | str | os.PathLike | None = None,
                 reasoner: Any = None, *, wait: bool = True,
                 max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS, selected_tools: Iterable[str] | None = None) -> None:
        unknown = sorted(set(selected_tools or ()) - set(TOOLS))
        if unknown:
            raise ValueError(f"no tool {', '.join(unknown)}; the toolkit has {', '.join(TOOLS)}")
        if store is None:
            store = temporary_store(engine=engine, reasoner=reasoner)
        elif reasoner is not None and store.reasoner is not reasoner:
            raise ValueError("the store given has another reasoner: pass reasoner to SessionStore(...), or give "
                             "AudioToolkit a reasoner and no store")
        if isinstance(allowed_dirs, (str, os.PathLike)):
            allowed_dirs = [allowed_dirs]
        super().__init__(store=store, engine=engine, allowed_dirs=allowed_roots(allowed_dirs),
                         reasoner=reasoner if reasoner is not None else store.reasoner, wait=wait,
                         max_output_chars=max_output_chars,
                         selected_tools=None if selected_tools is None else list(selected_tools))

    def get_tools(self) -> list[BaseTool]:
        """The selected tools (by default open_audio, transcribe_audio, ask_audio, search_audio,
        extract_from_audio, list_audio_sessions and close_audio_session), all sharing this toolkit's store."""
        names = [n for n in TOOLS if self.selected_tools is None or n in self.selected_tools]
        return [self._make(TOOLS[name]) for name in names]

    def _make(self, cls: type[AudioTool]) -> AudioTool:
        settings = {field: getattr(self, field) for field in cls.toolkit_fields}
        return cls(store=self.store, max_output_chars=self.max_output_chars, **settings)

    def get_tool(self, name: str) -> BaseTool:
        """The tool called ``name``."""
        if name not in TOOLS or (self.selected_tools is not None and name not in self.selected_tools):
            raise KeyError(f"no tool {name!r}; the toolkit has {', '.join(t.name for t in self.get_tools())}")
        return self._make(TOOLS[name])
