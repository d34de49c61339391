"""The Whisper engine's options: how it cuts, decodes and checks audio, and which precision its encoder runs in."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch

from aero_agent.engines.whisper.biasing import DEFAULT_BONUS, DEFAULT_MIN_P
from aero_agent.engines.whisper.chunking import SoundOptions
from aero_agent.engines.whisper.search import BeamPolicy
from aero_agent.engines.whisper.guards import GuardOptions
from aero_agent.engines.whisper.isa import cpu_isa
from aero_agent.vad import VadOptions


def encoder_dtype(choice: torch.dtype | str | None, english_only: bool) -> torch.dtype:
    """``auto``: bfloat16 where the kernels in force multiply bfloat16 natively (AMX tiles; AVX512-BF16 for
    English-only models; see :func:`~aero_agent.engines.whisper.isa.cpu_isa`), else float32
    (``AERO_ENCODER_DTYPE=float32`` keeps float32).

    With AMX, bfloat16 halves the encoder's matrix products at no cost in WER. With AVX512-BF16 alone (AMD EPYC,
    torch 2.13, one thread, alternating in one script) a 30 s window took 0.40 s against 0.65-0.67 s in float32
    (10 s windows: 0.088 s against 0.17 s), its states within 1.4 % of float32's (int8 linears: 0.40-0.42 s,
    17 %); 15 min of joined speech (in process, shared cores): encoder 20.6 against 38.3 CPU s, run 43.1 against
    63.4 CPU s, 6.48 against 6.70 % WER, peak RSS 1156 MB against 1113 MB (benchmarks/asr.py), the 0.5 min smoke
    recording the same 3 errors of 78. (On an earlier machine and torch, bfloat16 without AMX was 1.4x slower
    than float32.) Multilingual models stay in float32 there: Whisper base alternating (detection
    float32): 4 min of speech 21.1/21.0 against 30.0/26.7 CPU s, WER 4.34 against 4.73 %, but espeak German with
    a fixed language CER 0.191 against 0.130 (Spanish 0.066 against 0.079; auto reuses detection's float32 states)."""
    if isinstance(choice, torch.dtype):
        return choice
    if choice in (None, "auto"):
        if os.environ.get("AERO_ENCODER_DTYPE", "auto") == "float32":
            return torch.float32
        isa = cpu_isa()  # the kernels in force: a run capped to AVX2 takes the AVX2 machine's float32 path
        return torch.bfloat16 if isa.amx or (isa.native_bf16 and english_only) else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[choice]


def encoder_int8(choice: bool | None, english_only: bool) -> bool:
    """Whether the encoder's linear layers run in int8: as ``choice`` says, or (None) where torch's kernels in
    force are AVX2 (an x86 CPU without AVX-512, or one capped to AVX2) and the model is English-only. There int8
    cuts a 30 s window's float32 cost by a third; multilingual models keep float32 (their language detection and
    fixed-language CER moved with bfloat16, see :func:`encoder_dtype`), as do AVX-512 (bfloat16 or float32 is
    chosen there) and ARM (not measured); ``AERO_ENCODER_DTYPE=float32`` keeps float32 everywhere."""
    if choice is not None:
        return choice
    if os.environ.get("AERO_ENCODER_DTYPE", "auto") == "float32":
        return False
    return english_only and cpu_isa().capability.upper() == "AVX2"  # x86 without AVX-512 (measured there only)


@dataclass(frozen=True)
class WhisperOptions:
    """How the Whisper engine cuts, decodes and checks audio (every field has a measured default)."""

    batch_size: int = 8
    """Windows encoded and decoded together."""
    threads: int | None = None
    """Torch threads while transcribing (None: as set)."""
    decode_threads: int | None = 1
    """Threads for a decoder step when one batch runs alone: a step is many small, memory-bound operations,
    and one thread avoids synchronisation costs that swamp them, most of all when the cores are shared."""
    repair_rounds: int = 1
    """Passes that re-decode speech a window's transcript skipped."""
    workers: int | None = None
    """Batches in flight on single-core workers (None: up to two, as the cores allow)."""
    continue_early_ends: bool = True
    """Refuse an end of text well before a window's speech ends (see ``RefuseEarlyEnd``)."""
    encoder_dtype: torch.dtype | str | None = "auto"
    """``auto``, ``float32`` or ``bfloat16`` (see :func:`encoder_dtype`; language detection always encodes in
    float32)."""
    int8: bool = True
    """Run the decoder's linear layers and the vocabulary projection on int8 copies of their weights (dynamic
    quantisation), as faster-whisper's ``int8`` does."""
    int8_encoder: bool | None = False
    """The encoder's linear layers in int8 (the rest in float32); None: where torch's kernels in force are AVX2,
    for English-only models (see :func:`encoder_int8`). Off by default: held to AVX2, each clip of the split
    alone, the int8 encoder made 7.50 % WER on the tuning half against float32's 6.71 % (4 more errors in 507
    words; checking half 7.98 % both) for 24 % less CPU (27.0 against 35.7 s, loaded machine). AMD EPYC held to AVX2 (torch 2.13, one thread,
    alternating, 4 windows): a 30 s window 0.35-0.38 CPU s against float32's 0.55-0.60 (bfloat16, emulated there,
    2.2-2.7 s), states 7.9 % off float32's (bfloat16's 1.1 %). Natively (AVX512-BF16) bfloat16 costs the same
    (0.35-0.40 s) at 1.1 %, so it stays there. Earlier measurements: on an earlier AVX2 machine (0.37 s against
    0.48 s per window) the 0.5-min smoke recording lost 4 more words (7 errors of 78, against 3 with either
    alone), 15 min of speech 7.17 -> 7.27 % WER; on AMD EPYC with AVX512-BF16, 15 min 6.22 % WER (bfloat16 6.48,
    float32 6.70)."""
    int8_per_row: bool = True
    """Quantise each decoder step's input rows on scales of their own (``quantize.RowScaledLinear``), so a window
    reads the same whatever windows share its batch; False: torch's one scale per batch."""
    word_timestamps: bool = True
    """Align every segment's words to the audio (cross-attention and DTW)."""
    min_window_s: float | None = None
    """None: every window is padded to Whisper's 30 s; a number: to the batch's longest window, at least this
    long (live decoding's short buffers; see ``encoder.py``)."""
    condition_on_previous_text: bool = False
    """Decode each first-pass speech window after the text of the windows before it in its stream, as Whisper's
    ``condition_on_previous_text`` does: a recording's speech windows are cut into ``streams`` contiguous runs,
    decoded side by side, one window of each run per batch. Off: on 15 min of joined speech (one run each, loaded
    machine) off 6.69 % WER, on with text-only prompts 10.65 % (one segment per window, hence refused early ends
    and repeated phrases), on with the timestamps kept in the prompt 6.80 %."""
    prompt_timestamps: bool = True
    """The previous text with its timestamp tokens, as Whisper's own transcribe loop keeps it."""
    streams: int | None = None
    """Runs of windows conditioned one on another (None: ``batch_size`` x workers, which keeps batches full)."""
    side_min_s: float | None = 10.0
    """Doubtful and repair windows (a few seconds each, most of them) run in batches of their own, grouped by
    length and padded to their batch's longest window plus the encoder's tail, at least this long; None pads
    them to 30 s like speech. Speech windows always get Whisper's 30 s (shorter ones cost WER on speech).
    Measured on 15 min of joined speech (27 of 61 windows are doubtful or repair, all under 3.2 s; CPU seconds,
    loaded machine): 30 s 7.17 % WER, encoder 60.8 CPU s; 10 s 6.75 %, 48.2 s; 0 (about 5 s) 7.80 %, 41.6 s
    (repairs lost words); only doubtful windows at 0, repairs at 30 s, 7.49 %. Short form (each of the clips
    alone): 7.64 % WER either way, encoder 31.9 -> 29.2 CPU s."""
    vocabulary_bonus: float = DEFAULT_BONUS
    """What a finished vocabulary term adds to a reading's log-probability (see ``biasing.py``; 0: no bias)."""
    vocabulary_min_p: float = DEFAULT_MIN_P
    """A listed term's first token is boosted only where the decoder gives it at least this probability."""
    vocabulary_split_guard: bool = True
    """Never boost a term's first token where it is a strict prefix of the decoder's own next token (it would
    split the word being written: "thy" -> "th"+"ine"); see ``biasing.py``."""
    vocabulary_rewrite_min_p: float = 0.0
    """Within a word, a begun term's next token needs at least this probability where the decoder continues the
    word otherwise (0: off); see ``biasing.py``."""
    vocabulary_by_share: bool = True
    """Scale a term's first-token bonus by the share of the term's letters that token writes (``biasing.py``)."""
    vocabulary_prompt: bool = False
    """Also decode every window after the vocabulary's terms as a prompt (faster-whisper's ``hotwords``). Off:
    see BENCHMARKS.md, Custom vocabulary."""
    vad: VadOptions = field(default_factory=VadOptions)
    sound: SoundOptions = field(default_factory=SoundOptions)
    guards: GuardOptions = field(default_factory=GuardOptions)
    beam: BeamPolicy = field(default_factory=BeamPolicy)
    """Where beam search runs unless a call asks for a beam size (``TranscribeOptions.beam_size``)."""
