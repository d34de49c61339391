"""Audio windows, log-mel features and ChatML token ids, as Aero's processor lays them out.

Each 30 s window becomes one ``<|AUDIO|>\\n`` placeholder expanded to ``(L - 2) // 2 + 1`` tokens with
``L = (valid_frames - 1) // 2 + 1``; a full window gives 750. The prompt is ChatML with the default
system prompt; the audio windows open the first user message and its text follows them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aero_agent.engines.aero.model import audio_tokens_for_frames
from aero_agent.errors import CheckpointError

SAMPLE_RATE = 16_000
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
_FEATURE_KEYS = ("feature_size", "sampling_rate", "hop_length", "chunk_length", "n_fft", "padding_value")

Item = int | str  # a special token id, or text tokenized as one chunk


@dataclass(frozen=True)
class AudioWindow:
    """One encoder window: where it lies in the recording and how many audio tokens it yields."""

    index: int
    start_sample: int
    end_sample: int
    valid_frames: int
    tokens: int

    @property
    def start_s(self) -> float:
        return self.start_sample / SAMPLE_RATE

    @property
    def end_s(self) -> float:
        return self.end_sample / SAMPLE_RATE

    def to_json(self) -> dict:
        return {"index": self.index, "start_sample": self.start_sample, "end_sample": self.end_sample,
                "valid_frames": self.valid_frames, "tokens": self.tokens}

    @classmethod
    def from_json(cls, data: dict) -> AudioWindow:
        return cls(int(data["index"]), int(data["start_sample"]), int(data["end_sample"]),
                   int(data["valid_frames"]), int(data["tokens"]))


class AudioFeatures:
    """Whisper log-mel features for 30 s windows (128 mels, hop 160, each window padded to 3000 frames)."""

    def __init__(self, model_dir: Path | None, num_mel_bins: int, frames_per_window: int) -> None:
        from transformers import WhisperFeatureExtractor

        kwargs: dict = {"feature_size": num_mel_bins, "sampling_rate": SAMPLE_RATE, "hop_length": 160,
                        "chunk_length": 30, "n_fft": 400}
        path = Path(model_dir) / "preprocessor_config.json" if model_dir else None
        if path is not None and path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise CheckpointError(f"{path}: unreadable preprocessor config ({exc})") from exc
            kwargs.update({k: data[k] for k in _FEATURE_KEYS if k in data})
        if int(kwargs["feature_size"]) != num_mel_bins:
            raise CheckpointError(f"{path}: feature_size {kwargs['feature_size']} does not match the encoder's "
                                  f"{num_mel_bins} mel bins")
        self.extractor = WhisperFeatureExtractor(**kwargs)
        self.hop = int(self.extractor.hop_length)
        self.window_samples = frames_per_window * self.hop
        if self.extractor.n_samples != self.window_samples:
            raise CheckpointError(f"{path}: {self.extractor.n_samples} samples per window, the encoder takes "
                                  f"{self.window_samples}")

    def plan(self, n_samples: int) -> list[AudioWindow]:
        """Cut ``n_samples`` into consecutive windows; a tail too short for one audio token is dropped."""
        windows: list[AudioWindow] = []
        for start in range(0, n_samples, self.window_samples):
            end = min(start + self.window_samples, n_samples)
            frames = math.ceil((end - start) / self.hop)
            tokens = audio_tokens_for_frames(frames)
            if tokens > 0:
                windows.append(AudioWindow(len(windows), start, end, frames, tokens))
        return windows

    def features(self, samples: np.ndarray, windows: Sequence[AudioWindow]) -> tuple[torch.Tensor, list[int]]:
        """``(len(windows), mels, frames)`` features and each window's valid frame count."""
        chunks = [np.asarray(samples[w.start_sample:w.end_sample], dtype=np.float32) for w in windows]
        out = self.extractor(chunks, sampling_rate=SAMPLE_RATE, return_attention_mask=True, padding="max_length",
                             return_tensors="pt")
        valid = out["attention_mask"].sum(-1).tolist()
        for w, v in zip(windows, valid):
            if int(v) != w.valid_frames:  # the layout and the features must agree token for token
                raise RuntimeError(f"window {w.index}: {v} valid frames, planned {w.valid_frames}")
        return out["input_features"], [int(v) for v in valid]

    def batches(self, samples: np.ndarray, windows: Sequence[AudioWindow],
                batch_size: int) -> Iterator[tuple[list[AudioWindow], torch.Tensor, list[int]]]:
        for i in range(0, len(windows), batch_size):
            part = list(windows[i:i + batch_size])
            feats, valid = self.features(samples, part)
            yield part, feats, valid


class ChatTokens:
    """ChatML token ids for Aero prompts: the cached audio prefix and the conversation after it."""

    def __init__(self, model_dir: Path, audio_token_index: int, system_prompt: str = DEFAULT_SYSTEM_PROMPT) -> None:
        from transformers import Qwen2TokenizerFast

        if not (Path(model_dir) / "tokenizer.json").is_file() and not (Path(model_dir) / "vocab.json").is_file():
            raise CheckpointError(f"{model_dir}: no tokenizer (tokenizer.json or vocab.json + merges.txt)")
        try:
            self.tokenizer = Qwen2TokenizerFast.from_pretrained(str(model_dir))
        except Exception as exc:
            raise CheckpointError(f"{model_dir}: the tokenizer does not load ({exc})") from exc
        # Membership in the vocabulary, not "differs from the unknown id": without an unk_token entry
        # Qwen2Tokenizer makes <|endoftext|> the unknown token, which is still a real token.
        vocab = self.tokenizer.get_vocab()
        for token in ("<|im_start|>", "<|im_end|>", "<|endoftext|>"):
            if token not in vocab:
                raise CheckpointError(f"{model_dir}: the tokenizer has no {token} token")
        self.im_start, self.im_end, self.endoftext = (vocab["<|im_start|>"], vocab["<|im_end|>"],
                                                      vocab["<|endoftext|>"])
        audio = vocab.get("<|AUDIO|>")
        if audio is not None and audio != audio_token_index:
            raise CheckpointError(f"{model_dir}: the tokenizer's <|AUDIO|> is {audio} but config.json says "
                                  f"audio_token_index {audio_token_index}")
        self.audio = audio_token_index
        self.system_prompt = system_prompt
        self.eos_ids = (self.im_end, self.endoftext)

    def encode_items(self, items: Sequence[Item]) -> list[int]:
        """Token ids of special ids and text chunks; text never turns into special tokens."""
        ids: list[int] = []
        text = ""
        for item in list(items) + [-1]:
            if isinstance(item, str):
                text += item
                continue
            if text:
                ids += self.tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]
                text = ""
            if item >= 0:
                ids.append(item)
        return ids

    def header(self) -> list[int]:
        """System message and the opening of the first user message, before the audio."""
        return self.encode_items([self.im_start, f"system\n{self.system_prompt}", self.im_end, "\n",
                                  self.im_start, "user\n"])

    def window_ids(self, tokens: int, first: bool) -> list[int]:
        """One window's placeholder: ``\\n`` separating it from the previous window, then its audio tokens."""
        return ([] if first else self.encode_items(["\n"])) + [self.audio] * tokens

    def prefix(self, windows: Sequence[AudioWindow]) -> list[int]:
        """Header plus every window's audio tokens: ends with the last audio token."""
        ids = self.header()
        for i, w in enumerate(windows):
            ids += self.window_ids(w.tokens, first=i == 0)
        return ids

    def conversation(self, messages: Sequence[tuple[str, str]]) -> list[int]:
        """Ids after the audio prefix: the first user text, later turns, and the assistant header.

        ``messages`` alternate user/assistant as rendered by the chat template; the first must be
        the user message that carries the audio.
        """
        items: list[Item] = ["\n" + messages[0][1], self.im_end]
        for role, content in messages[1:]:
            items += ["\n", self.im_start, f"{role}\n{content}", self.im_end]
        items += ["\n", self.im_start, "assistant\n"]
        return self.encode_items(items)

    def text_only(self, user: str) -> list[int]:
        """A whole text-only ChatML prompt (no audio), ending with the assistant header."""
        return self.encode_items([self.im_start, f"system\n{self.system_prompt}", self.im_end, "\n",
                                  self.im_start, f"user\n{user}", self.im_end, "\n", self.im_start, "assistant\n"])

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)
