"""Batched greedy Whisper decoding with timestamp rules, over transformers' Whisper weights.

The decoder step reuses the parameters of ``WhisperForConditionalGeneration`` but keeps its own
pre-allocated key/value buffers and computes the cross-attention keys and values once per window,
which makes a step cheap enough that many windows decode together.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import WhisperForConditionalGeneration

TIME_PER_TOKEN = 0.02


@dataclass(frozen=True)
class SpecialTokens:
    """Token ids that steer decoding."""

    eot: int
    sot_sequence: tuple[int, ...]
    no_timestamps: int
    timestamp_begin: int
    suppress: tuple[int, ...]
    suppress_begin: tuple[int, ...]
    max_initial_timestamp: int = 50  # 1.0 s


class DecoderRunner:
    """One decoder step for a batch, with self-attention buffers and fixed cross-attention keys/values."""

    def __init__(self, model: WhisperForConditionalGeneration) -> None:
        decoder = model.model.decoder
        self.decoder = decoder
        self.layers = list(decoder.layers)
        self.heads = model.config.decoder_attention_heads
        self.max_len = model.config.max_target_positions
        # The vocabulary projection dominates a step's memory traffic; bfloat16 halves it.
        self.proj = model.proj_out.weight.detach().to(torch.bfloat16)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        return x.view(b, t, self.heads, d // self.heads).transpose(1, 2)

    def cross_keys_values(self, encoded: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer: scaled keys and values, both laid out (batch, heads, head_dim, frames).

        With one query per step, ``q @ K`` and ``V @ p`` in this layout stream the 1500 frames at memory
        speed; the (frames, head_dim) layout or the flash-attention kernel are several times slower here."""
        scale = (self.decoder.config.d_model // self.heads) ** -0.5
        return [((self._split(layer.encoder_attn.k_proj(encoded)) * scale).transpose(-1, -2).contiguous(),
                 self._split(layer.encoder_attn.v_proj(encoded)).transpose(-1, -2).contiguous())
                for layer in self.layers]

    def new_buffers(self, batch: int, dtype: torch.dtype, length: int) -> list[torch.Tensor]:
        d = self.decoder.config.d_model
        shape = (2, batch, self.heads, min(length, self.max_len), d // self.heads)
        return [torch.empty(shape, dtype=dtype) for _ in self.layers]

    def step(self, tokens: torch.Tensor, position: int, buffers: list[torch.Tensor],
             cross: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """Logits (batch, vocab) for the next token after ``tokens`` (batch,) at ``position``."""
        x = self.decoder.embed_tokens(tokens)[:, None, :] + self.decoder.embed_positions.weight[position]
        for layer, kv, (ck, cv) in zip(self.layers, buffers, cross):
            attn = layer.self_attn
            h = layer.self_attn_layer_norm(x)
            q = self._split(attn.q_proj(h))
            kv[0, :, :, position] = self._split(attn.k_proj(h))[:, :, 0]
            kv[1, :, :, position] = self._split(attn.v_proj(h))[:, :, 0]
            o = F.scaled_dot_product_attention(q, kv[0, :, :, : position + 1], kv[1, :, :, : position + 1])
            x = x + attn.out_proj(o.transpose(1, 2).reshape(x.shape))
            cross_attn = layer.encoder_attn
            h = layer.encoder_attn_layer_norm(x)
            query = cross_attn.q_proj(h).view(x.shape[0], self.heads, 1, -1)  # (batch, heads, 1, head_dim)
            weights = torch.softmax(torch.matmul(query, ck), dim=-1)  # (batch, heads, 1, frames)
            o = torch.matmul(cv, weights.transpose(-1, -2))  # (batch, heads, head_dim, 1)
            x = x + cross_attn.out_proj(o.reshape(x.shape))
            h = layer.final_layer_norm(x)
            x = x + layer.fc2(F.gelu(layer.fc1(h)))
        x = self.decoder.layer_norm(x)
        return F.linear(x[:, 0].to(self.proj.dtype), self.proj).float()


def apply_timestamp_rules(logits: torch.Tensor, generated: list[list[int]], special: SpecialTokens,
                          max_timestamp: list[int]) -> None:
    """Whisper's rules (in place): paired, non-decreasing timestamps inside the window, first token a timestamp."""
    tb, eot = special.timestamp_begin, special.eot
    neg = float("-inf")
    logits[:, list(special.suppress)] = neg
    logits[:, special.no_timestamps] = neg
    for row, seq in enumerate(generated):
        if not seq:
            logits[row, list(special.suppress_begin)] = neg
            logits[row, :tb] = neg
            logits[row, tb + special.max_initial_timestamp + 1:] = neg
            continue
        last_ts = seq[-1] >= tb
        penultimate_ts = len(seq) < 2 or seq[-2] >= tb
        if last_ts:
            if penultimate_ts:
                logits[row, tb:] = neg
            else:
                logits[row, :eot] = neg
        stamps = [t for t in seq if t >= tb]
        if stamps:
            floor = stamps[-1] if (last_ts and not penultimate_ts) else stamps[-1] + 1
            logits[row, tb:floor] = neg
        logits[row, tb + max_timestamp[row] + 1:] = neg
    logprobs = torch.log_softmax(logits, dim=-1)
    stamp_mass = torch.logsumexp(logprobs[:, tb:], dim=-1)
    best_text = logprobs[:, :tb].max(dim=-1).values
    force = stamp_mass > best_text
    if force.any():
        logits[force, :tb] = neg


@torch.inference_mode()
def greedy_decode(runner: DecoderRunner, encoded: torch.Tensor, special: SpecialTokens,
                  window_s: list[float], max_tokens: int = 224, speech_end_s: list[float] | None = None,
                  max_continuations: int = 2, min_unsaid_s: float = 2.0) -> list[list[int]]:
    """Greedy timestamped decoding of a batch of encoded windows; returns each window's generated tokens.

    When ``speech_end_s`` says where each window's speech ends, an end of text ``min_unsaid_s`` or more before
    that point is refused (up to ``max_continuations`` times per window) and the next best token taken:
    Whisper sometimes stops a window early and would otherwise drop its last sentences.

    Finished windows are dropped from the batch once a quarter of it has finished, so the cross-attention
    keys and values (the bulk of each step's memory traffic) are neither read for finished windows for
    long nor copied after every single finish.
    """
    batch = encoded.shape[0]
    prompt = list(special.sot_sequence)
    limit = min(max_tokens, runner.max_len - len(prompt))
    cross = runner.cross_keys_values(encoded)
    buffers = runner.new_buffers(batch, encoded.dtype, len(prompt) + limit)
    active = list(range(batch))  # window index of each row still in the batch
    finished: set[int] = set()
    generated: list[list[int]] = [[] for _ in range(batch)]
    max_ts = [min(1500, int(round(s / TIME_PER_TOKEN))) for s in window_s]
    continued = [0] * batch
    tb = special.timestamp_begin
    position = 0
    for token in prompt[:-1]:
        runner.step(torch.full((batch,), token, dtype=torch.long), position, buffers, cross)
        position += 1
    current = torch.full((batch,), prompt[-1], dtype=torch.long)
    for _ in range(limit):
        logits = runner.step(current, position, buffers, cross)
        position += 1
        apply_timestamp_rules(logits, [generated[i] for i in active], special, [max_ts[i] for i in active])
        chosen = logits.argmax(dim=-1)
        for slot, row in enumerate(active):
            if row in finished:
                chosen[slot] = special.eot
                continue
            token = int(chosen[slot])
            if token == special.eot and speech_end_s is not None and continued[row] < max_continuations:
                stamps = [t for t in generated[row] if t >= tb]
                said_until = (stamps[-1] - tb) * TIME_PER_TOKEN if stamps else 0.0
                if speech_end_s[row] - said_until > min_unsaid_s and len(generated[row]) < limit - 16:
                    logits[slot, special.eot] = float("-inf")
                    alternative = int(logits[slot].argmax())
                    if logits[slot, alternative] > float("-inf"):
                        continued[row] += 1
                        token = alternative
                        chosen[slot] = token
            if token == special.eot:
                finished.add(row)
            else:
                generated[row].append(token)
        alive = [slot for slot, row in enumerate(active) if row not in finished]
        if not alive:
            break
        if len(active) - len(alive) >= max(1, len(active) // 4):
            index = torch.tensor(alive)
            active = [active[s] for s in alive]
            cross = [(k.index_select(0, index), v.index_select(0, index)) for k, v in cross]
            buffers = [b.index_select(1, index) for b in buffers]
            chosen = chosen.index_select(0, index)
        current = chosen
    return generated


def tokens_to_segments(tokens: list[int], special: SpecialTokens, offset_s: float,
                       end_s: float) -> list[tuple[float, float, list[int]]]:
    """Split generated tokens at timestamp pairs into (start, end, text tokens) in absolute seconds."""
    tb = special.timestamp_begin
    segments: list[tuple[float, float, list[int]]] = []
    start: float | None = None
    text: list[int] = []
    for token in tokens:
        if token >= tb:
            t = offset_s + (token - tb) * TIME_PER_TOKEN
            if start is None or not text:
                start = t
            else:
                segments.append((start, t, text))
                start, text = None, []
        elif token < special.eot:
            text.append(token)
    if text:
        segments.append((start if start is not None else offset_s, end_s, text))
    return segments
