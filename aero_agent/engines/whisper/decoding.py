"""Batched Whisper decoding pieces: the decoder step, special tokens, timestamp rules and the rows they read.

The decoder step reuses the parameters of ``WhisperForConditionalGeneration`` but keeps its own
pre-allocated key/value buffers and computes the cross-attention keys and values once per window,
which makes a step cheap enough that many windows decode together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol, Sequence

import torch
import torch.nn.functional as F
from aero_agent.engines.whisper.net import WhisperNet, linear_of

from aero_agent.engines.whisper.quantize import int8_linears, int8_projection

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
    no_speech: int | None = None
    startofprev: int | None = None
    """``<|startofprev|>``, which opens a previous-text prompt (None: the checkpoint has none)."""

    def prefix(self, previous: Sequence[int], most: int = 223) -> list[int]:
        """The tokens a window's decoding starts from: its previous text (the last ``most`` tokens, after
        ``<|startofprev|>``) when there is any, then the start-of-transcript sequence, as Whisper builds them."""
        if not previous or self.startofprev is None:
            return list(self.sot_sequence)
        return [self.startofprev, *list(previous)[-most:], *self.sot_sequence]


class DecoderRunner:
    """One decoder step for a batch, with self-attention buffers and fixed cross-attention keys/values."""

    def __init__(self, model: WhisperNet, int8: bool = False,
                 values_dtype: torch.dtype = torch.float16, per_row: bool = True) -> None:
        decoder = model.model.decoder
        self.values_dtype = values_dtype
        self.decoder = decoder
        self.heads = model.config.decoder_attention_heads
        self.max_len = model.config.max_target_positions
        self.max_prompt = self.max_len // 2 - 1  # previous-text tokens a window may be decoded after, as Whisper
        # The vocabulary projection dominates a step's memory traffic; int8 quarters it, bfloat16 halves it.
        self.proj: torch.Tensor | torch.nn.Module
        scale = (decoder.config.d_model // self.heads) ** -0.5
        cross = torch.nn.ModuleList(_fused_linear([(layer.encoder_attn.k_proj, scale), (layer.encoder_attn.v_proj, 1.0)])
                                    for layer in decoder.layers)
        own = torch.nn.ModuleList(_fused_linear([(layer.self_attn.q_proj, 1.0), (layer.self_attn.k_proj, 1.0),
                                                 (layer.self_attn.v_proj, 1.0)]) for layer in decoder.layers)
        if int8:
            # a step's rows quantised each on its own scale (``per_row``): a window reads the same beside any others
            self.layers = list(int8_linears(decoder.layers, leave_out=FUSED_PARTS, per_row=per_row))
            self.proj = int8_projection(model.proj_out.weight, per_row)
            cross, own = int8_linears(cross), int8_linears(own, per_row=per_row)
        else:
            self.layers = list(decoder.layers)
            self.proj = model.proj_out.weight.detach().to(torch.bfloat16)
        self.cross_proj, self.self_proj = list(cross), list(own)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        return x.view(b, t, self.heads, d // self.heads).transpose(1, 2)

    def cross_keys_values(self, encoded: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer: scaled keys (float32) and values (``values_dtype``), both laid out (batch, heads, head_dim,
        frames).

        With one query per step, ``q @ K`` and ``V @ p`` in this layout stream the 1500 frames at memory
        speed; the (frames, head_dim) layout or the flash-attention kernel are several times slower here.
        ``V @ p`` is a product of long rows with one vector, which torch runs as fast in float16 as in float32
        per element, so float16 values halve its memory traffic (3.1 against 4.0 ms per layer at batch 8 on
        one AVX2 core); ``q @ K`` in float16 or bfloat16 is 4x slower than in float32 there, so the keys stay
        float32. Even with AVX512-BF16 (AMD EPYC, torch 2.13) bfloat16 keys, which would halve their memory (37 of
        a batch's 110 MB for 8 windows of tiny.en), made 15 min of speech's decoder 16.2-16.9 CPU s against
        10.4-10.8 s (in-process A/B, idle machine).

        Each window is projected on its own: the int8 projection then scales its input by that window alone (a
        window's keys no longer depend on the others in its batch), and the only copy besides the result is one
        window's (frames, 2 d_model) projection, not the batch's (37 MB for 8 windows)."""
        b, frames, d = encoded.shape
        layout = (b, self.heads, d // self.heads, frames)  # (batch, d_model, frames) seen per head
        out = [(torch.empty(layout), torch.empty(layout, dtype=self.values_dtype))
               for _ in self.cross_proj]
        for row in range(b):  # one window at a time: the only other copy is its (frames, 2 d_model) projection
            for projection, (keys, values) in zip(self.cross_proj, out):
                k, v = projection(encoded[row]).chunk(2, dim=-1)
                # one (frames, d_model) transpose per window: twice as fast as permuting the 4-d head view
                keys[row].view(d, frames).copy_(k.T)
                values[row].view(d, frames).copy_(v.T)
        return out

    def new_buffers(self, batch: int, dtype: torch.dtype, length: int) -> list[torch.Tensor]:
        d = self.decoder.config.d_model
        shape = (2, batch, self.heads, min(length, self.max_len), d // self.heads)
        return [torch.empty(shape, dtype=dtype) for _ in self.layers]

    def step(self, tokens: torch.Tensor, position: int, buffers: list[torch.Tensor],
             cross: list[tuple[torch.Tensor, torch.Tensor]], pad: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (batch, vocab) for the next token after ``tokens`` (batch,) at buffer slot ``position``.

        ``cross`` may hold fewer rows than ``tokens``: each of its windows then serves ``batch // windows``
        consecutive rows (a window's beams), which read its keys and values in one product, not one copy each.

        ``pad`` (batch,): each row's left padding (see :meth:`prefill`): its slots before that are masked out and
        its positions count from there; None for none."""
        x = self.decoder.embed_tokens(tokens)[:, None, :]
        if pad is None:
            x, mask = x + self.decoder.embed_positions.weight[position], None
        else:
            x = x + self.decoder.embed_positions.weight[position - pad][:, None, :]
            mask = (torch.arange(position + 1) >= pad[:, None])[:, None, None, :]
        for layer, own, kv, (ck, cv) in zip(self.layers, self.self_proj, buffers, cross):
            attn = layer.self_attn
            q, k, v = (self._split(part) for part in own(layer.self_attn_layer_norm(x)).chunk(3, dim=-1))
            kv[0, :, :, position] = k[:, :, 0]
            kv[1, :, :, position] = v[:, :, 0]
            o = F.scaled_dot_product_attention(q, kv[0, :, :, : position + 1], kv[1, :, :, : position + 1],
                                               attn_mask=mask)
            x = x + attn.out_proj(o.transpose(1, 2).reshape(x.shape))
            cross_attn = layer.encoder_attn
            h = layer.encoder_attn_layer_norm(x)
            group = x.shape[0] // ck.shape[0]  # rows (beams) per window: they read their window's keys together
            query = cross_attn.q_proj(h).view(ck.shape[0], group, self.heads, -1).transpose(1, 2)
            weights = torch.softmax(torch.matmul(query, ck), dim=-1)  # (windows, heads, group, frames)
            o = torch.matmul(cv, weights.transpose(-1, -2).to(cv.dtype)).float()  # (windows, heads, head_dim, group)
            x = x + cross_attn.out_proj(o.permute(0, 3, 1, 2).reshape(x.shape))
            h = layer.final_layer_norm(x)
            x = x + layer.fc2(F.gelu(layer.fc1(h)))
        return self.project(self.decoder.layer_norm(x)[:, 0])

    def teacher_forced(self, tokens: torch.Tensor, cross: list[tuple[torch.Tensor, torch.Tensor]],
                       heads: Sequence[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """One causal pass over whole token sequences (batch, length): final hidden states (batch, length, d_model;
        :meth:`project` turns them into logits) and the cross-attention weights of ``heads`` ((layer, head) pairs; float16), shaped (batch, heads, length, frames)."""
        return self._forward(tokens, slice(0, tokens.shape[1]), cross, heads=heads)

    def prefill(self, tokens: torch.Tensor, pad: torch.Tensor, buffers: list[torch.Tensor],
                cross: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """Feed whole prefixes (batch, length) in one causal pass, writing their keys and values to slots
        ``[0, length)`` of ``buffers``; final hidden states (batch, length, d_model).

        Row ``r`` is left-padded by ``pad[r]`` slots: its tokens there are ignored (no real token attends to
        them; each attends to itself only, which keeps its softmax finite) and its positions start after them,
        so every row computes what it would alone. :meth:`step` then continues at slot ``length``."""
        b, t = tokens.shape
        slots = torch.arange(t)
        positions = (slots[None, :] - pad[:, None]).clamp_min(0)
        mask = ((slots[None, :] <= slots[:, None])[None] & (slots[None, None, :] >= pad[:, None, None])) | torch.eye(t, dtype=torch.bool)
        hidden, _ = self._forward(tokens, positions, cross, mask=mask[:, None], buffers=buffers)
        return hidden

    def _forward(self, tokens: torch.Tensor, positions: slice | torch.Tensor,
                 cross: list[tuple[torch.Tensor, torch.Tensor]], mask: torch.Tensor | None = None,
                 buffers: list[torch.Tensor] | None = None,
                 heads: Sequence[tuple[int, int]] = ()) -> tuple[torch.Tensor, torch.Tensor]:
        """The decoder over whole sequences (causal, or under ``mask``), optionally keeping keys and values in
        ``buffers`` and the cross-attention weights of ``heads``."""
        b, t = tokens.shape
        x = self.decoder.embed_tokens(tokens) + self.decoder.embed_positions.weight[positions]
        # only the weights of ``heads`` are kept (a view of one would keep its layer's weights of every head), in
        # float16: weights lie in [0, 1], and half the memory of a batch's (heads, length, 1500 frames) each
        picked = torch.empty(b, len(heads), t, cross[0][0].shape[-1] if heads else 0, dtype=torch.float16)
        for number, (layer, own, (ck, cv)) in enumerate(zip(self.layers, self.self_proj, cross)):
            attn = layer.self_attn
            q, k, v = (self._split(part) for part in own(layer.self_attn_layer_norm(x)).chunk(3, dim=-1))
            if buffers is not None:
                buffers[number][0, :, :, :t] = k
                buffers[number][1, :, :, :t] = v
            if mask is None:
                o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            x = x + attn.out_proj(o.transpose(1, 2).reshape(x.shape))
            h = layer.encoder_attn_layer_norm(x)
            query = self._split(layer.encoder_attn.q_proj(h))  # (batch, heads, length, head_dim)
            o = torch.empty_like(query)
            for row in range(b):  # one window at a time: its weights (heads, length, frames), not the batch's
                weights = torch.softmax(torch.matmul(query[row], ck[row]), dim=-1)
                for slot, (head_layer, head) in enumerate(heads):
                    if head_layer == number:
                        picked[row, slot] = weights[head]
                o[row] = torch.matmul(weights, cv[row].float().transpose(-1, -2))  # (heads, length, head_dim)
            x = x + layer.encoder_attn.out_proj(o.transpose(1, 2).reshape(x.shape))
            x = x + layer.fc2(F.gelu(layer.fc1(layer.final_layer_norm(x))))
        return self.decoder.layer_norm(x), picked

    def project(self, hidden: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits of decoder hidden states."""
        if isinstance(self.proj, torch.nn.Module):
            return self.proj(hidden.float().contiguous())
        return F.linear(hidden.to(self.proj.dtype), self.proj).float()


FUSED_PARTS = frozenset({"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "encoder_attn.k_proj",
                         "encoder_attn.v_proj"})
"""A decoder layer's projections that the fused ones (``self_proj``, ``cross_proj``) compute: the int8 layers
leave them out (0.7 MB a layer of tiny.en no step reads, quantised for nothing before)."""


def _fused_linear(parts: Sequence[tuple[torch.nn.Linear, float]]) -> torch.nn.Linear:
    """One linear layer computing several that read the same input, each times its factor, side by side: one
    pass (and one int8 quantisation of the input) instead of several, and no separate scaling. Quantised per
    output row, the int8 copy equals the separate layers' exactly when the factors are powers of two (the cross-
    attention key scale is 1/8 for 64-wide heads)."""
    with torch.no_grad():
        return linear_of(torch.cat([linear.weight * factor for linear, factor in parts]),
                         torch.cat([linear.bias * factor if linear.bias is not None else torch.zeros(linear.out_features)
                                    for linear, factor in parts]))


@dataclass(frozen=True)
class Bonus:
    """A row's shallow-fusion bonus (see :class:`Fusion`): ``kept`` for the listed terms it completed, ``pending``
    for the one it is writing (taken back if it leaves that term unfinished), and the fusion's own ``place``."""

    kept: float = 0.0
    pending: float = 0.0
    place: object = None


@dataclass
class Row:
    """One window's state while it decodes: what the rules read and what the guards are computed from."""

    max_timestamp: int
    speech_end_s: float | None = None
    tokens: list[int] = field(default_factory=list)
    continued: int = 0
    sum_logprob: float = 0.0
    beam: bool = False
    """A beam-search hypothesis: an end of text may end it from any rank, not only as the best token."""
    bonus: Bonus = Bonus()
    """What a :class:`Fusion` added to the row's score (``sum_logprob`` is the model's log-probability alone)."""


class LogitRule(Protocol):
    """One decoding rule: edits the next-token logits (batch, vocab) of the rows still decoding, in place."""

    def apply(self, logits: torch.Tensor, rows: Sequence[Row]) -> None: ...


class Fusion(Protocol):
    """Shallow fusion: a bonus on top of the next-token log-probabilities that a row keeps in its score (its
    :attr:`Row.bonus`), applied after the :class:`LogitRule` s and the softmax, so the model's own log-probability
    (``sum_logprob``, what the guards read) stays apart from it."""

    def fuse(self, logprobs: torch.Tensor, rows: Sequence[Row]) -> torch.Tensor:
        """The scores (batch, vocab) to choose each row's next token by: ``logprobs`` plus the bonus (a new
        tensor). Brings each row's :attr:`Row.bonus` up to date with its tokens first."""
        ...


NEG = float("-inf")


def last_stamp(tokens: Sequence[int], timestamp_begin: int) -> int | None:
    """The last timestamp token of ``tokens`` (None without one), found from the end."""
    for token in reversed(tokens):
        if token >= timestamp_begin:
            return token
    return None


def best_tokens(logits: torch.Tensor) -> list[int]:
    """Each row's highest-scoring token (the first on ties), as ``argmax`` picks it.

    numpy's argmax over a (batch, vocabulary) float32 array is about 15x faster than torch's on CPU, where
    torch's reduction with indices is not vectorised (1.1 ms against 0.06 ms at batch 8)."""
    return logits.numpy().argmax(axis=-1).tolist()


@dataclass(frozen=True)
class SuppressTokens:
    """Tokens never to emit (the checkpoint's suppress list and ``<|notimestamps|>``)."""

    tokens: tuple[int, ...]

    @cached_property
    def _index(self) -> torch.Tensor:
        return torch.tensor(self.tokens, dtype=torch.long)

    def apply(self, logits: torch.Tensor, rows: Sequence[Row]) -> None:
        logits.index_fill_(1, self._index, NEG)


@dataclass(frozen=True)
class SuppressAtBegin:
    """Tokens not to emit first (a blank, an immediate end of text)."""

    tokens: tuple[int, ...]

    def apply(self, logits: torch.Tensor, rows: Sequence[Row]) -> None:
        for slot, row in enumerate(rows):
            if not row.tokens:
                logits[slot, list(self.tokens)] = NEG


@dataclass(frozen=True)
class TimestampRules:
    """Whisper's timestamp grammar: a timestamp first (at most ``max_initial`` steps in), timestamps in pairs,
    never decreasing, never past the window's audio; a timestamp forced when they outweigh any text token."""

    eot: int
    timestamp_begin: int
    max_initial: int = 50  # 1.0 s

    def apply(self, logits: torch.Tensor, rows: Sequence[Row]) -> None:
        tb, eot = self.timestamp_begin, self.eot
        for slot, row in enumerate(rows):
            seq = row.tokens
            if not seq:
                logits[slot, :tb] = NEG
                logits[slot, tb + self.max_initial + 1:] = NEG
                continue
            last_ts = seq[-1] >= tb
            penultimate_ts = len(seq) < 2 or seq[-2] >= tb
            if last_ts:
                if penultimate_ts:
                    logits[slot, tb:] = NEG
                else:
                    logits[slot, :eot] = NEG
            stamp = last_stamp(seq, tb)
            if stamp is not None:
                floor = stamp if (last_ts and not penultimate_ts) else stamp + 1
                logits[slot, tb:floor] = NEG
            logits[slot, tb + row.max_timestamp + 1:] = NEG
        # compared as logits, not log-probabilities: both sides would subtract the same normaliser
        force = torch.logsumexp(logits[:, tb:], dim=-1) > logits[:, :tb].amax(dim=-1)
        if force.any():
            logits[force, :tb] = NEG


@dataclass(frozen=True)
class RefuseEarlyEnd:
    """Refuse an end of text ``min_unsaid_s`` or more before the window's speech ends (up to ``max_refusals``
    times per window): Whisper sometimes stops a window early and would otherwise drop its last sentences."""

    eot: int
    timestamp_begin: int
    max_tokens: int
    max_refusals: int = 2
    min_unsaid_s: float = 2.0

    def apply(self, logits: torch.Tensor, rows: Sequence[Row]) -> None:
        chosen = best_tokens(logits)
        for slot, row in enumerate(rows):
            best = chosen[slot] == self.eot  # a beam hypothesis may also end on a lower-ranked end of text
            if not (best or row.beam) or row.speech_end_s is None or row.continued >= self.max_refusals:
                continue
            stamp = last_stamp(row.tokens, self.timestamp_begin)
            said_until = (stamp - self.timestamp_begin) * TIME_PER_TOKEN if stamp is not None else 0.0
            if row.speech_end_s - said_until > self.min_unsaid_s and len(row.tokens) < self.max_tokens - 16:
                kept = logits[slot, self.eot].clone()
                logits[slot, self.eot] = NEG
                if logits[slot].max() > NEG:
                    row.continued += best  # refusals of the best token are counted, as greedy counts them
                else:
                    logits[slot, self.eot] = kept


def timestamp_rules(special: SpecialTokens) -> list[LogitRule]:
    """The rules every timestamped decode applies, in order."""
    return [SuppressTokens(tuple(special.suppress) + (special.no_timestamps,)),
            SuppressAtBegin(tuple(special.suppress_begin)),
            TimestampRules(special.eot, special.timestamp_begin, special.max_initial_timestamp)]


def apply_timestamp_rules(logits: torch.Tensor, generated: list[list[int]], special: SpecialTokens,
                          max_timestamp: list[int]) -> None:
    """Whisper's rules (in place): paired, non-decreasing timestamps inside the window, first token a timestamp."""
    rows = [Row(limit, tokens=list(seq)) for seq, limit in zip(generated, max_timestamp)]
    for rule in timestamp_rules(special):
        rule.apply(logits, rows)


@dataclass(frozen=True)
class Decoded:
    """A window's generated tokens with what the guards judge it by."""

    tokens: list[int]
    avg_logprob: float
    no_speech_prob: float
    bonus: float = 0.0
    """A :class:`Fusion`'s bonus for the listed terms it completed, per token as ``avg_logprob``."""


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

