"""Languages for the Whisper engine: the decoder prompt of each recording (``<|sot|><|de|><|transcribe|>``), and
language detection from the first speech window, as Whisper does it: one decoder step after start-of-transcript,
read over the language tokens only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from aero_agent.engines.whisper.decoding import DecoderRunner
from aero_agent.errors import EnglishOnlyModelError, InvalidArgumentError
from aero_agent.transcription import AUTO, LANGUAGES, TranscribeOptions

MULTILINGUAL_HINT = "use a multilingual model: --model base (pip install 'aero-agent[base]') or any Whisper folder"


@dataclass(frozen=True)
class ClipLanguage:
    """What one recording is decoded as: its language (detected or given), and the decoder prompt."""

    language: str
    prompt: tuple[int, ...]
    probability: float | None = None
    """The detector's probability of ``language``; None when it was given."""


class LanguagePrompts:
    """The language and task tokens of one checkpoint, and the prompts built from them."""

    def __init__(self, tokenizer, sot: int, model_id: str, english_only: bool) -> None:
        self.sot, self.model_id, self.english_only = sot, model_id, english_only
        self.ids = {code: tid for code in LANGUAGES if (tid := tokenizer.token_to_id(f"<|{code}|>")) is not None}
        self.tasks = {task: tokenizer.token_to_id(f"<|{task}|>") for task in ("transcribe", "translate")}

    def check(self, options: TranscribeOptions) -> None:
        """Raise a plain error when the options ask what this model cannot do."""
        if self.english_only and options.multilingual:
            asked = "translation" if options.task == "translate" else (
                "language detection" if options.language == AUTO else f"language {options.language!r}")
            raise EnglishOnlyModelError(f"{self.model_id} is an English-only model, so {asked} is not available; "
                                        f"{MULTILINGUAL_HINT}")
        if options.language not in (None, AUTO, "en") and options.language not in self.ids:
            raise InvalidArgumentError(f"{self.model_id} has no token for language {options.language!r}")

    def needs_detection(self, options: TranscribeOptions) -> bool:
        return not self.english_only and options.language in (None, AUTO)

    def fixed(self, options: TranscribeOptions) -> ClipLanguage:
        """The prompt for a language given (or English for an English-only model)."""
        if self.english_only:
            return ClipLanguage("en", (self.sot,))
        return self.of(options.language or "en", options, None)

    def of(self, language: str, options: TranscribeOptions, probability: float | None) -> ClipLanguage:
        return ClipLanguage(language, (self.sot, self.ids[language], self.tasks[options.task]), probability)

    @torch.inference_mode()
    def detect(self, runner: DecoderRunner, encoded: torch.Tensor) -> list[tuple[str, float]]:
        """The most probable language of each encoded window (batch, frames, d_model), with its probability."""
        codes = list(self.ids)
        batch = encoded.shape[0]
        buffers = runner.new_buffers(batch, encoded.dtype, 1)
        logits = runner.step(torch.full((batch,), self.sot, dtype=torch.long), 0, buffers,
                             runner.cross_keys_values(encoded))
        probs = torch.softmax(logits[:, [self.ids[c] for c in codes]], dim=-1)
        best = probs.argmax(dim=-1).tolist()
        return [(codes[b], round(float(probs[row, b]), 4)) for row, b in enumerate(best)]


def prompt_groups(prompts: Sequence[tuple[int, ...]]) -> list[list[int]]:
    """Positions of a batch grouped by prompt, in first-seen order: each group decodes with its own prompt."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for index, prompt in enumerate(prompts):
        groups.setdefault(prompt, []).append(index)
    return list(groups.values())
