"""Prefill and greedy decoding over a live KV cache that holds the audio prefix and earlier turns.

A :class:`LiveConversation` knows which token ids its cache holds. Answering a turn keeps the longest
common prefix of those ids and the new conversation, crops the rest, prefills only the new tokens,
and decodes greedily, so a follow-up costs its own tokens however long the audio is. Because
positions before the kept prefix depend only on earlier tokens, this equals a full recompute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from aero_agent.engines.aero.kv_cache import GrowableCache, common_prefix
from aero_agent.engines.aero.model import AeroModel


@dataclass
class LiveConversation:
    """A cache and the ids whose keys/values it holds; ``ids[:prefix_len]`` is the audio prefix."""

    cache: GrowableCache
    ids: list[int]
    prefix_len: int

    def rewind(self, keep: int) -> None:
        """Drop everything after the first ``keep`` positions (never inside the prefix)."""
        keep = max(keep, self.prefix_len)
        self.cache.truncate(keep)
        del self.ids[keep:]


@dataclass
class TurnResult:
    """What one turn cost and produced."""

    generated: list[int]
    prefilled: int
    reused: int
    context: int
    stopped: str
    extra: dict[str, Any] = field(default_factory=dict)


class Decoder:
    """Prefill in chunks and greedy decoding with ``model``'s language model."""

    def __init__(self, model: AeroModel, eos_ids: Sequence[int], prefill_chunk: int, max_context: int) -> None:
        self.model = model
        self.eos = set(int(i) for i in eos_ids)
        self.prefill_chunk = max(1, int(prefill_chunk))
        self.max_context = int(max_context)

    def new_cache(self, reserve: int = 0) -> GrowableCache:
        return GrowableCache(int(self.model.config.text.num_hidden_layers), reserve=reserve)

    @torch.inference_mode()
    def prefill_embeds(self, cache: GrowableCache, embeds: torch.Tensor) -> torch.Tensor:
        """Append ``(1, n, hidden)`` embeddings to ``cache``; returns the last position's hidden state."""
        hidden = None
        for start in range(0, embeds.shape[1], self.prefill_chunk):
            hidden = self.model.forward_hidden(embeds[:, start:start + self.prefill_chunk], cache)
        assert hidden is not None, "prefill needs at least one token"
        return hidden[:, -1]

    @torch.inference_mode()
    def prefill_ids(self, cache: GrowableCache, ids: Sequence[int]) -> torch.Tensor:
        tensor = torch.tensor(list(ids), dtype=torch.long, device=self.model.device)
        hidden = None
        for start in range(0, len(ids), self.prefill_chunk):
            hidden = self.model.forward_hidden(self.model.embed(tensor[start:start + self.prefill_chunk]), cache)
        assert hidden is not None, "prefill needs at least one token"
        return hidden[:, -1]

    @torch.inference_mode()
    def prefill_audio(self, cache: GrowableCache, ids: Sequence[int], audio: torch.Tensor,
                      audio_token: int) -> torch.Tensor:
        """Prefill ``ids`` with the rows of ``audio`` (in order) in place of the audio placeholders."""
        tensor = torch.tensor(list(ids), dtype=torch.long, device=self.model.device)
        embeds = self.model.embed(tensor)
        mask = tensor == audio_token
        if int(mask.sum()) != audio.shape[0]:
            raise ValueError(f"{int(mask.sum())} audio placeholders but {audio.shape[0]} audio embeddings")
        embeds[0, mask] = audio.to(device=embeds.device, dtype=embeds.dtype)
        return self.prefill_embeds(cache, embeds)

    @torch.inference_mode()
    def greedy(self, cache: GrowableCache, ids: list[int], last_hidden: torch.Tensor,
               max_new_tokens: int) -> tuple[list[int], str]:
        """Greedy tokens after ``last_hidden``; fed tokens are appended to ``ids`` (the last one is not fed)."""
        out: list[int] = []
        hidden = last_hidden
        room = self.max_context - cache.get_seq_length()
        limit = max(0, min(max_new_tokens, room))
        while len(out) < limit:
            token = int(torch.argmax(self.model.logits(hidden), dim=-1).item())
            out.append(token)
            if token in self.eos:
                return out, "eos"
            if len(out) == limit:
                break
            step = self.model.embed(torch.tensor([token], device=self.model.device))
            hidden = self.model.forward_hidden(step, cache)[:, -1]
            ids.append(token)
        return out, "length" if limit == max_new_tokens else "context"

    def answer(self, conv: LiveConversation, suffix: Sequence[int], max_new_tokens: int) -> TurnResult:
        """Run one turn whose full ids are ``conv.ids[:prefix_len] + suffix``, reusing what matches."""
        cached = conv.ids[conv.prefix_len:]
        keep = conv.prefix_len + common_prefix(cached, list(suffix))
        keep = min(keep, conv.prefix_len + len(suffix) - 1)  # at least one token must be run for logits
        conv.rewind(keep)
        new = list(suffix[keep - conv.prefix_len:])
        hidden = self.prefill_ids(conv.cache, new)
        conv.ids.extend(new)
        generated, stopped = self.greedy(conv.cache, conv.ids, hidden, max_new_tokens)
        return TurnResult(generated=generated, prefilled=len(new), reused=keep,
                          context=conv.prefix_len + len(suffix) + len(generated), stopped=stopped)

    def text_only(self, ids: Sequence[int], max_new_tokens: int) -> TurnResult:
        """Generate from a text-only prompt with a fresh cache (used to merge windowed answers)."""
        cache = self.new_cache(reserve=len(ids) + max_new_tokens)
        fed = list(ids)
        hidden = self.prefill_ids(cache, fed)
        generated, stopped = self.greedy(cache, fed, hidden, max_new_tokens)
        return TurnResult(generated=generated, prefilled=len(ids), reused=0, context=len(ids) + len(generated),
                          stopped=stopped)


def messages_for(history: Sequence[Any], prompt: str) -> list[tuple[str, str]]:
    """ChatML messages from session history plus the new prompt; the first is the user turn with the audio.

    Tool turns are left out (Aero was not trained on them); a history that starts with an assistant
    turn gets an empty audio-only user turn before it.
    """
    messages: list[tuple[str, str]] = []
    for turn in history:
        role = turn.get("role") if isinstance(turn, dict) else getattr(turn, "role", None)
        content = turn.get("content") if isinstance(turn, dict) else getattr(turn, "content", "")
        if role in ("user", "assistant"):
            messages.append((role, str(content or "")))
    messages.append(("user", prompt))
    if messages[0][0] != "user":
        messages.insert(0, ("user", ""))
    return messages


def drop_oldest(messages: list[tuple[str, str]]) -> list[tuple[str, str]] | None:
    """The conversation without its oldest exchange after the audio turn's text, or None if nothing is left.

    The audio stays where it is (it opens the first user message, which is part of the cached prefix);
    the first user text and the reply to it are what goes.
    """
    if len(messages) <= 1:
        return None
    rest = messages[1:]
    if rest and rest[0][0] == "assistant":
        rest = rest[1:]
    if not rest:
        return None
    return rest if rest[0][0] == "user" else [("user", "")] + rest
