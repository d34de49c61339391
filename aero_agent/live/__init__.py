"""Live transcription: a rolling buffer re-decoded as audio arrives, words committed by LocalAgreement-2.

The policy follows ufal's whisper_streaming (``OnlineASRProcessor`` and ``HypothesisBuffer``). The package:
``options`` (LiveOptions and the limits of each timing option), ``agreement`` (the agreement policy),
``processor`` (the OnlineProcessor and the engine twin it decodes with), ``chunks`` (live audio chunks decoded).
"""

from aero_agent.live.agreement import HypothesisBuffer, _norm, words_to_segments
from aero_agent.live.chunks import LIVE_SOURCE, MAX_BASE64_CHARS, as_float_samples, decode_base64_chunk, decode_chunk
from aero_agent.live.options import (ENCODER_WINDOW_S, LIMITS, MAX_CONTEXT_GAP_S, AnchorArg, ContextArg, Limit,
                                     LiveOptions, PauseArg, StepArg, WindowArg, timing_arg)
from aero_agent.live.processor import (VAD_BATCH, BufferVad, LiveEngine, LiveStats, LiveUpdate, OnlineProcessor,
                                       streaming_engine)

__all__ = ["ENCODER_WINDOW_S", "LIMITS", "LIVE_SOURCE", "MAX_BASE64_CHARS", "MAX_CONTEXT_GAP_S", "VAD_BATCH",
           "AnchorArg", "BufferVad", "ContextArg", "HypothesisBuffer", "Limit", "LiveEngine", "LiveOptions",
           "LiveStats", "LiveUpdate", "OnlineProcessor", "PauseArg", "StepArg", "WindowArg", "as_float_samples",
           "decode_base64_chunk", "decode_chunk", "streaming_engine", "timing_arg", "words_to_segments", "_norm"]
