"""Live options and their limits: how often a live stream is re-decoded, when words become final, how much one
feed may carry; the one table of each timing option's bounds, which the CLI and the tools' arguments read."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from numbers import Real
from typing import Annotated, Any

from pydantic import Field

from aero_agent.errors import InvalidArgumentError
from aero_agent.vad import VadOptions

MAX_CONTEXT_GAP_S = 2.0  # silence after which kept context goes: the engine decodes past 3 s gaps apart

ENCODER_WINDOW_S = 30.0
"""Whisper's encoder window: the longest a live decode's window can be (``window_s`` None pads to it)."""


@dataclass(frozen=True)
class Limit:
    """The seconds one live option may take: finite, above ``low`` (or from it, with ``low_ok``), at most
    ``high`` (a number, or the name of the option that caps it). ``about`` is what a tool's caller reads."""

    low: float = 0.0
    low_ok: bool = False
    high: float | str = math.inf
    about: str = ""

    def cap(self, options: "LiveOptions | None" = None) -> float:
        """The upper bound: a number, or the capping option's value in ``options`` (its default without; none
        while that value is itself not a number, which its own check refuses)."""
        if not isinstance(self.high, str):
            return self.high
        cap = (getattr(options, self.high) if options is not None
               else LiveOptions.__dataclass_fields__[self.high].default)
        return float(cap) if isinstance(cap, Real) and not isinstance(cap, bool) else math.inf

    def problem(self, value: object, options: "LiveOptions | None" = None) -> str | None:
        """Why ``value`` is refused, or None when it fits."""
        high = self.cap(options)
        bounds = f"{'at least' if self.low_ok else 'above'} {self.low:g}"
        if math.isfinite(high):
            bounds += f" and at most {high:g}" + (f" ({self.high})" if isinstance(self.high, str) else "")
        if (isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value)
                or value < self.low or (value == self.low and not self.low_ok) or value > high):
            return f"must be a finite number of seconds {bounds}"
        return None


LIMITS: dict[str, Limit] = {
    "step_s": Limit(high="max_step_s", about=(
        "Seconds of new audio between two decodes (default 1; shorter gives final text sooner, costs more CPU).")),
    "max_step_s": Limit(),
    "trim_s": Limit(high="max_buffer_s"),
    "max_buffer_s": Limit(),
    "pause_s": Limit(high="max_buffer_s", about=(
        "Seconds of silence after speech that make the text before it final (default 0.5).")),
    "context_s": Limit(low_ok=True, high="trim_s", about=(
        "Seconds of final audio kept before the buffer when it is cut, so the next decodes hear the words "
        "before the new ones (default 2; 0: none).")),
    "anchor_s": Limit(low_ok=True, high=2.0, about=(
        "Also make final the words two decodes place within this many seconds (default 0.2, which gives final "
        "text sooner; 0: plain LocalAgreement-2).")),
    "window_s": Limit(low_ok=True, high=ENCODER_WINDOW_S, about=(
        "Shortest encoder window in seconds (default 15; 30: Whisper's own, slower; shorter windows make up "
        "words).")),
    "max_chunk_s": Limit(),
}
"""The one table of what each live timing option may be (None, where allowed, is not checked): LiveOptions,
the CLI's ``listen`` flags and the tools' arguments all read it."""


@dataclass(frozen=True)
class LiveOptions:
    """How often a live stream is re-decoded, when words become final, and how much one feed may carry.

    Tried and removed: decoding each buffer after a text prompt of the committed text before it (as
    whisper_streaming does; with 200 characters tiny.en repeated each buffer's sentence two or three times,
    WER 55 % on 78 s of speech), and holding back agreed words that end near the buffer's end (0.4 s added
    0.2 s of median latency and fixed no error)."""

    step_s: float = 1.0
    """New audio that triggers a decode of the buffer (the step widens up to ``max_step_s`` when lagging).
    With ``context_s`` 2 (simulated, loaded machine, modelled decode cost so the runs differ only in the step):
    0.75 s WER +3.63 against 1.0 s +2.04; ``pause_s`` 0.4 +2.95, ``anchor_s`` 0.1 +2.72. Through the CLI on
    the idle machine, before ``context_s`` existed (``benchmarks/live.py --seconds 180``, 191 s, offline WER
    2.95 %, 15 s window, ``anchor_s`` 0.2): 1.0 s 1.97/3.85 s median/p90 latency, WER +1.6, 36 % CPU; 0.75 s
    1.71/3.18 s (both latency targets) but WER +2.3, 39 %. Simulated on the shared machine (``--simulate``):
    1.0 s without the anchor 2.31/4.00 s, +1.59; 0.75 s 2.45/4.32 s, +1.36, with the anchor 2.00/3.69 s,
    +1.81."""
    max_step_s: float = 4.0
    """The widest step: past it the processor decodes as fast as it can and reports how far behind it is."""
    decode_share: float | None = 0.75
    """The share of the step that decodes may take, measured as the stream runs (the mean of the recent
    decodes): on a machine whose decodes take longer, the base step widens to ``mean / decode_share`` (at most
    ``max_step_s``), so a slow CPU decodes less often instead of back to back; where decodes are fast the step
    stays ``step_s``. None: a fixed base step (widened only while single decodes take over 0.9 of it)."""
    trim_s: float = 8.0
    """A buffer longer than this is cut at the end of its last committed sentence (buffers stayed ~3.5 s long
    in the measurements: pauses finalise and cut them first)."""
    context_s: float = 2.0
    """Committed audio kept before the buffer's start when it is cut (at a sentence end or a pause), so the next
    decodes hear the words before the new ones; the re-decoded words that fall before the commit point are
    dropped. A pause longer than ``MAX_CONTEXT_GAP_S`` drops the context (the engine would decode it apart).
    Simulated on the loaded machine (``benchmarks/live.py --seconds 180 --simulate``, 191 s, offline WER
    2.72 %, 15 s window, anchor 0.2, 1 s step), WER above offline: 0 s +2.04 and +2.95 (the CLI on the idle
    machine +2.04), 2 s +1.81, +1.36, +1.59, +2.04 and +1.81 (the runs' timing, hence their buffers, differs),
    3 s +3.63 and +3.40. With a modelled decode cost instead of the CPU time, so that runs differ only in the
    option (an earlier revision): 0 s and 1 s +2.95, 2 s +2.04; on 150 s of the other clips (offline 10.0 %)
    0 s +1.67, 2 s +1.33. Latency and CPU: 2 s 1.97/3.18, 2.06/3.33 and 2.04/2.88 s median/p90, but 2.10/4.41
    and 2.18/4.25 s in two runs where its slower decodes (0.6 CPU s against 0.5, both threads counted as wall
    time) widened the step, 0.57-0.65 CPU s per audio s; 0 s 2.05/3.43 and 1.88/2.64 s, 0.57-0.59. On
    tests/test_live.py's 27 s stream (1.5 s step, ``trim_s`` 6) 2 s turned 11.3 % WER into 5.6 % (offline
    1.4 %): "ill-disposed" and "unless" came out right once the words before them were heard."""
    max_buffer_s: float = 25.0
    """A buffer longer than this is cut at its last committed word (or its hypothesis is finalised)."""
    pause_s: float = 0.5
    """Silence after speech that finalises the hypothesis, as soon as it is heard (not at the next step).
    Measured as ``step_s``: 0.3 s 1.90/3.19 s but WER +2.49 (a finalised pause split "unless" into "I would
    less"), 0.4 s 2.13/3.78 s, +1.81 (both with a 0.75 s step and no anchor)."""
    anchor_s: float | None = 0.2
    """None: plain LocalAgreement-2. A number: also commit up to the last two consecutive words that the last
    two decodes both hold at the same times (within this many seconds), even where an earlier word changed
    (the newer decode's version is kept); see ``step_s`` for its effect. It did not cause the 27 s test stream's
    errors with a 15 s window (11.3 % WER with it, 7.0 % without, on a loaded machine): those were short
    buffers' decodes that two decodes agreed on ("A less" for "Unless"), which ``context_s`` halves."""
    window_s: float | None = 15.0
    """None: Whisper's 30 s encoder window; a number: the shortest window a buffer is padded to (a longer one
    gets its own length plus 2 s). With ``context_s`` 2 and the anchor (simulated, loaded machine, 191 s):
    15 s 1.91-2.06/2.77-3.33 s, 0.57-0.60 CPU s per audio s; 20 s 2.31/3.92 s, WER +1.59, 0.69; 30 s
    2.87/4.45 s, +2.49, 0.73. Through the CLI on the idle machine (191 s, 1 s step): 30 s 3.61/5.95 s
    median/p90 latency, WER +0.7, 50 % CPU; 15 s 2.35/3.75 s, +1.6, 44 %. Shorter windows hallucinate (78 s,
    0.6 s step, simulated): 10 s WER +5.9, 8 s +12.4, and buffer-length windows (0) run decodes to 224
    tokens on short buffers (p90 8.8 s)."""
    max_chunk_s: float = 60.0
    """The most audio one ``feed`` call may carry."""
    vad: VadOptions = field(default_factory=VadOptions)

    def __post_init__(self) -> None:
        """Refuse an option outside :data:`LIMITS` as :class:`InvalidArgumentError`, before any audio is fed."""
        for name, limit in LIMITS.items():
            value = getattr(self, name)
            problem = None if value is None else limit.problem(value, self)
            if problem:
                raise InvalidArgumentError(f"live option {name}={value!r}: {problem}")
        share = self.decode_share
        if share is not None and (isinstance(share, bool) or not isinstance(share, Real) or not 0 < share <= 1):
            raise InvalidArgumentError(f"live option decode_share={share!r}: must be a number above 0 and at most 1")

    @classmethod
    def of(cls, window_s: float | None = None, step_s: float | None = None, pause_s: float | None = None,
           anchor_s: float | None = None, context_s: float | None = None) -> "LiveOptions":
        """The defaults with the timing options a caller sets (CLI ``listen``, the live tools) given, None for
        the default; a 30 s window is Whisper's own (None), an anchor of 0 is plain LocalAgreement-2 (None)."""
        given = {"window_s": window_s, "step_s": step_s, "pause_s": pause_s, "anchor_s": anchor_s,
                 "context_s": context_s}
        changes = {k: v for k, v in given.items() if v is not None}
        if changes.get("window_s") == ENCODER_WINDOW_S:
            changes["window_s"] = None
        if changes.get("anchor_s") == 0:
            changes["anchor_s"] = None
        return replace(cls(), **changes)


def timing_arg(name: str) -> Any:
    """The live option ``name`` as a tool argument: seconds or None (the default), its bounds and ``about`` in
    the JSON Schema the caller sees (a bound set by another option is that option's default)."""
    limit = LIMITS[name]
    high = limit.cap()
    bounds: dict[str, float] = {"ge" if limit.low_ok else "gt": limit.low}
    if math.isfinite(high):
        bounds["le"] = high
    return Annotated[float | None, Field(allow_inf_nan=False, description=limit.about, **bounds)]


WindowArg = timing_arg("window_s")
StepArg = timing_arg("step_s")
PauseArg = timing_arg("pause_s")
AnchorArg = timing_arg("anchor_s")
ContextArg = timing_arg("context_s")
"""The timing options (:meth:`LiveOptions.of`) as the live tools' arguments."""
