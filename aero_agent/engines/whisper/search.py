"""Searching a batch of encoded windows for their tokens: greedy decoding or beam search, and the engine's
:class:`BeamPolicy` of where beams run. The decoder step, the rules and the rows are in :mod:`decoding`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from aero_agent.engines.whisper.decoding import (NEG, TIME_PER_TOKEN, Decoded, DecoderRunner, Fusion, LogitRule,
                                                 RefuseEarlyEnd, Row, SpecialTokens, best_tokens, timestamp_rules)
from aero_agent.engines.whisper.memory import PackedRows

@torch.inference_mode()
def decode_windows(runner: DecoderRunner, encoded: torch.Tensor | None, special: SpecialTokens, window_s: list[float],
                   max_tokens: int = 224, speech_end_s: list[float] | None = None,
                   extra_rules: Sequence[LogitRule] = (),
                   cross: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
                   prompts: Sequence[Sequence[int]] | None = None, beam_size: int = 1,
                   retry: tuple[int, float] | None = None, fusion: Fusion | None = None) -> list[Decoded]:
    """Timestamped decoding of a batch of encoded windows under :func:`timestamp_rules` and ``extra_rules``,
    greedy (``beam_size`` 1) or by beam search (see :func:`_beam_search`); each window's tokens, average
    log-probability and no-speech probability.

    ``fusion`` (a vocabulary's bias): a bonus on the log-probabilities that each row keeps in its score, so greedy
    and beam search choose by both; ``avg_logprob`` stays the model's own and ``Decoded.bonus`` holds the bonus
    the reading kept.

    Finished windows are dropped from the batch once a quarter of it has finished, so the cross-attention
    keys and values (the bulk of each step's memory traffic) are neither read for finished windows for
    long nor moved after every single finish; they move within their own tensors (:class:`PackedRows`),
    and ``cross``, when given, is back in its order on return.

    ``prompts``: each window's previous text (tokens; empty for none), fed before its start-of-transcript
    sequence in one teacher-forced pass (see :meth:`DecoderRunner.prefill`); without any, the sequence is fed
    one step a token. ``encoded`` may be None when ``cross`` is given (the states are not needed past it).

    ``retry`` (beams, average log-probability): after greedy decoding, windows below that average are decoded
    again by beam search with that many beams, and the more probable reading (per token) is kept.
    """
    if cross is None:
        assert encoded is not None, "decode_windows needs the encoder states or their keys and values"
        cross = runner.cross_keys_values(encoded)
    batch = cross[0][0].shape[0]
    prefixes = [special.prefix(p, runner.max_prompt) for p in prompts] if prompts and any(prompts) else None
    width = len(special.sot_sequence) if prefixes is None else max(len(p) for p in prefixes)
    limit = min(max_tokens, runner.max_len - width)
    rules = [*timestamp_rules(special), *extra_rules]
    packed = PackedRows(cross)  # restored at the end (for a caller that gave them)
    cross = packed.view()
    buffers = runner.new_buffers(batch, torch.float32, width + limit)
    rows = [Row(min(1500, int(round(s / TIME_PER_TOKEN))), None if speech_end_s is None else speech_end_s[i])
            for i, s in enumerate(window_s)]
    logits, no_speech, pad = _feed_prefixes(runner, special, prefixes, width, batch, buffers, cross)
    state = _Search(runner, special, rules, fusion, packed, buffers, logits, pad, width, limit)
    found = _beam_search(state, rows, beam_size) if beam_size > 1 else _greedy(state, rows)
    packed.restore()
    decoded = [Decoded(row.tokens, row.sum_logprob / (len(row.tokens) + 1), no_speech[i],
                       row.bonus.kept / (len(row.tokens) + 1)) for i, row in enumerate(found)]
    low = [i for i, d in enumerate(decoded) if retry and beam_size == 1 and d.avg_logprob < retry[1]]
    if low and retry:
        again = decode_windows(runner, None, special, [window_s[i] for i in low], max_tokens,
                               None if speech_end_s is None else [speech_end_s[i] for i in low], extra_rules,
                               cross=packed.keep(low), prompts=[prompts[i] for i in low] if prompts else None,
                               beam_size=retry[0], fusion=fusion)
        packed.restore()
        for i, d in zip(low, again):  # compared as the search ranks readings: with the bonus they keep
            if d.avg_logprob + d.bonus > decoded[i].avg_logprob + decoded[i].bonus:
                decoded[i] = Decoded(d.tokens, d.avg_logprob, decoded[i].no_speech_prob, d.bonus)
    return decoded


def _feed_prefixes(runner: DecoderRunner, special: SpecialTokens, prefixes: list[list[int]] | None, width: int,
                   batch: int, buffers: list[torch.Tensor], cross: list[tuple[torch.Tensor, torch.Tensor]]
                   ) -> tuple[torch.Tensor, list[float], torch.Tensor | None]:
    """Feeds each window's prefix; the logits after it, the no-speech probabilities and the left padding."""
    if prefixes is None:  # the start-of-transcript sequence, one step a token
        no_speech, logits = [0.0] * batch, torch.empty(0)
        for position, token in enumerate(special.sot_sequence):
            logits = runner.step(torch.full((batch,), token, dtype=torch.long), position, buffers, cross)
            if position == 0:
                no_speech = _no_speech(logits, special)
        return logits, no_speech, None
    # previous text and start-of-transcript left-padded to one width, in one pass
    pad = torch.tensor([width - len(p) for p in prefixes])
    tokens = torch.tensor([[special.eot] * (width - len(p)) + p for p in prefixes])
    hidden = runner.prefill(tokens, pad, buffers, cross)
    sot = width - len(special.sot_sequence)  # the slot of <|startoftranscript|> in every row
    return runner.project(hidden[:, -1]), _no_speech(runner.project(hidden[:, sot]), special), pad


@dataclass(frozen=True)
class BeamPolicy:
    """Where beam search runs when the caller leaves the beam size to the engine (chosen on the tuning half;
    see BENCHMARKS.md, "Beam search")."""

    size: int = 5
    """Beams where beam search runs."""
    side: bool = False
    """Doubtful and repair windows too (a few seconds each: a small share of the work)."""
    short_s: float = 60.0
    """A recording at most this long has its speech windows decoded with beams (0: none). Short clips (BENCHMARKS.md,
    "Beam search"), WER % tuning / checking: beam 5 throughout 5.72 / 7.00, the retry alone 5.52 / 8.37,
    faster-whisper beam 5 5.52 / 7.00. On the tuning half beam and retry are one error apart (29 and 28 of 507
    words), within the noise of one window's reading; the tie goes to faster-whisper's own default, beam 5,
    and the checking half then reads 7.00 against 8.37. 60 s bounds the cost: a cold start of an 11-s clip
    1.05x CPU, tuning short clips 1.15x. Live windows are not recordings: a live session decodes greedily
    unless a beam size is asked (its latency budget)."""
    retry_below: float | None = -0.5
    """A greedy window whose average log-probability is below this is decoded again with beams, and the more
    probable reading kept (None: never). Chosen on the tuning half's short clips (2026-12-07, BENCHMARKS.md,
    "Beam search"): greedy 6.11 % WER, retried below -0.4 to -0.6 5.52 % (8 to 13 of 36 windows retried;
    falsetto that greedy misread), below -0.7 6.11 %; -0.5 is the middle of that plateau. Since recordings up to
    ``short_s`` are decoded with beams throughout, it acts on longer ones (60 min: 6.52 % with tails and retry
    against 6.70 % without either)."""

    def plan(self, asked: int | None, side: bool, recording_s: float) -> tuple[int, tuple[int, float] | None]:
        """(beam size, ``retry`` for :func:`decode_windows`) of a batch: ``asked`` (a caller's beam size) wins.
        Doubtful and repair batches (``side``) get no beams unless ``side`` says so, not even in a short
        recording, and are not retried: a more probable reading of music or noise could pass the guards that
        drop greedy's (a short join's outro music read "watching!" with beams)."""
        if asked is not None:
            return asked, None
        if side:
            return (self.size if self.side else 1), None
        if recording_s <= self.short_s:
            return self.size, None
        return 1, None if self.retry_below is None else (self.size, self.retry_below)


@dataclass
class _Search:
    """What a decoding loop starts from: the rules, the windows' keys and values, the self-attention buffers
    and the logits after each window's prefix (slot ``position`` is next)."""

    runner: DecoderRunner
    special: SpecialTokens
    rules: list[LogitRule]
    fusion: Fusion | None
    packed: PackedRows
    buffers: list[torch.Tensor]
    logits: torch.Tensor
    pad: torch.Tensor | None
    position: int
    limit: int


def _greedy(state: _Search, rows: list[Row]) -> list[Row]:
    """Greedy decoding: each window's most probable token at every step."""
    special, cross, buffers, logits, pad = state.special, state.packed.view(), state.buffers, state.logits, state.pad
    active = list(range(len(rows)))  # window index of each batch slot still decoding
    finished: set[int] = set()
    position = state.position
    for n in range(state.limit):
        live = [rows[i] for i in active]
        for rule in state.rules:
            rule.apply(logits, live)
        every = torch.log_softmax(logits, dim=-1)  # with a fusion: the best token with its bonus, as in a beam
        best = best_tokens(logits if state.fusion is None else state.fusion.fuse(every, live))
        chosen = torch.tensor(best)
        logprobs = every.gather(1, chosen[:, None])[:, 0].tolist()
        for slot, index in enumerate(active):
            if index in finished:
                chosen[slot] = special.eot
                continue
            token, row = best[slot], rows[index]
            row.sum_logprob += logprobs[slot]
            if token == special.eot:
                finished.add(index)
            else:
                row.tokens.append(token)
        alive = [slot for slot, index in enumerate(active) if index not in finished]
        if not alive or n + 1 == state.limit:
            break
        if len(active) - len(alive) >= max(1, len(active) // 4):
            keep = torch.tensor(alive)
            active = [active[s] for s in alive]
            cross = state.packed.keep(alive)
            buffers = [b.index_select(1, keep) for b in buffers]
            chosen = chosen.index_select(0, keep)
            pad = None if pad is None else pad.index_select(0, keep)
        logits = state.runner.step(chosen, position, buffers, cross, pad)
        position += 1
    return rows


def _beam_search(state: _Search, rows: list[Row], beam: int) -> list[Row]:
    """Beam search as openai-whisper and faster-whisper run it (patience 1, no length penalty): each window
    keeps its ``beam`` most probable unfinished hypotheses; a window is done once ``beam`` hypotheses have
    ended (else at the token limit, its open ones filling up to ``beam``), and the one with the best log-probability per token
    wins. Every rule sees each hypothesis as a row of its own (its tokens, its refusals), so any
    :class:`LogitRule` applies per beam. A window's hypotheses share its cross-attention keys and values.

    With a fusion, hypotheses are ranked by their log-probability plus the bonus they hold (:func:`_score`), and
    the readings that ended by the bonus they keep (:func:`_final`): a term left unfinished (an end of text or a
    timestamp inside it, or the token limit) counts for nothing in the choice."""
    special, runner = state.special, state.runner
    windows = len(rows)
    spread = torch.arange(windows).repeat_interleave(beam)
    buffers = [b.index_select(1, spread) for b in state.buffers]
    logits = state.logits.index_select(0, spread)
    pad = None if state.pad is None else state.pad.index_select(0, spread)
    cross = state.packed.view()
    hyps = [[_copy_row(row) for _ in range(beam)] for row in rows]
    ended: list[list[Row]] = [[] for _ in rows]
    active = list(range(windows))  # windows still searching, in slot order; each has ``beam`` rows
    position = state.position
    for n in range(state.limit):
        live = [row for w in active for row in hyps[w]]
        for rule in state.rules:
            rule.apply(logits, live)
        logprobs = torch.log_softmax(logits, dim=-1)
        if n == 0:  # every hypothesis of a window is the same: expand from its first only
            logprobs.view(len(active), beam, -1)[:, 1:] = NEG
        scores = logprobs if state.fusion is None else state.fusion.fuse(logprobs, live)
        top_sc, top_ids = scores.topk(beam + 1, dim=-1)
        top_lp = (top_sc if scores is logprobs else logprobs.gather(1, top_ids)).tolist()
        top_sc, top_tok = top_sc.tolist(), top_ids.tolist()
        parents: list[int] = []
        tokens: list[int] = []
        keep: list[int] = []
        for slot, w in enumerate(active):
            part = slice(slot * beam, (slot + 1) * beam)
            chosen = _choose(hyps[w], ended[w], top_sc[part], top_tok[part], special.eot, top_lp[part])
            if len(ended[w]) >= beam or not chosen or n + 1 == state.limit:
                # short of ``beam`` ended readings (at the token limit): the open ones fill up, best first
                open_ = sorted(hyps[w], key=lambda h: -_score(h))[: max(0, beam - len(ended[w]))]
                ended[w] += [_copy_row(h) for h in open_]
                continue
            chosen += [chosen[-1]] * (beam - len(chosen))  # fewer possible tokens than beams: repeat the last
            new = []
            for _, j, tok, logprob in chosen:
                row = _copy_row(hyps[w][j], hyps[w][j].sum_logprob + logprob)
                row.tokens.append(tok)
                new.append(row)
                parents.append(slot * beam + j)
                tokens.append(tok)
            hyps[w] = new
            keep.append(slot)
        if not keep:
            break
        if len(keep) < len(active):
            cross = state.packed.keep(keep)
            pad = None if pad is None else pad.view(len(active), beam)[keep].reshape(-1)
            active = [active[s] for s in keep]
        index = torch.tensor(parents)
        buffers = [b.index_select(1, index) for b in buffers]
        logits = runner.step(torch.tensor(tokens), position, buffers, cross, pad)
        position += 1
    return [max(ended[w], key=_final) for w in range(windows)]


def _score(row: Row) -> float:
    """A hypothesis's score while it is searched: its log-probability and the bonus it holds, pending included."""
    return row.sum_logprob + row.bonus.kept + row.bonus.pending


def _final(row: Row) -> float:
    """An ended reading's score per token: its log-probability and the bonus of the terms it completed (what it
    would lose of an unfinished term does not count)."""
    return (row.sum_logprob + row.bonus.kept) / max(1, len(row.tokens))


def _choose(hyps: list[Row], ended: list[Row], top_sc: list[list[float]], top_tok: list[list[int]],
            eot: int, top_lp: list[list[float]] | None = None) -> list[tuple[float, int, int, float]]:
    """A window's next step: its best (score, hypothesis, token, log-probability) continuations, ``beam`` of them,
    by the scores ``top_sc`` of each hypothesis's top tokens (log-probabilities ``top_lp``, the same without a
    fusion, whose bonus the scores add); the hypotheses that end here scoring above the last of those are added
    to ``ended`` (which holds at most ``beam``), as openai-whisper's ``BeamSearchDecoder.update`` collects them.
    (Ends from anywhere in each hypothesis's top ``beam + 1`` filled ``ended`` with short, improbable readings
    and stopped the search early: beam 5 then skipped whole segments.)"""
    beam = len(hyps)
    top_lp = top_sc if top_lp is None else top_lp
    candidates = sorted(((_score(hyps[j]) + sc, j, tok, lp) for j in range(beam)
                         for sc, tok, lp in zip(top_sc[j], top_tok[j], top_lp[j]) if sc > NEG),
                        key=lambda c: -c[0])
    chosen: list[tuple[float, int, int, float]] = []
    for score, j, tok, lp in candidates:
        if len(chosen) == beam:  # an end scoring below the beam's last continuation is no candidate
            break
        if tok != eot:
            chosen.append((score, j, tok, lp))
        elif len(ended) < beam:
            ended.append(_copy_row(hyps[j], hyps[j].sum_logprob + lp))
    return chosen


def _copy_row(row: Row, sum_logprob: float | None = None) -> Row:
    return Row(row.max_timestamp, row.speech_end_s, list(row.tokens), row.continued,
               row.sum_logprob if sum_logprob is None else sum_logprob, beam=True, bonus=row.bonus)


def _no_speech(logits: torch.Tensor, special: SpecialTokens) -> list[float]:
    """Probability of the no-speech token right after start-of-transcript (before any rule), per row."""
    if special.no_speech is None:
        return [0.0] * logits.shape[0]
    return torch.softmax(logits, dim=-1)[:, special.no_speech].tolist()


def greedy_decode(runner: DecoderRunner, encoded: torch.Tensor, special: SpecialTokens,
                  window_s: list[float], max_tokens: int = 224, speech_end_s: list[float] | None = None,
                  max_continuations: int = 2, min_unsaid_s: float = 2.0) -> list[list[int]]:
    """Greedy timestamped decoding of a batch of encoded windows; returns each window's generated tokens.

    With ``speech_end_s`` (where each window's speech ends), an end of text well before it is refused
    (see :class:`RefuseEarlyEnd`)."""
    extra = [] if speech_end_s is None else [RefuseEarlyEnd(special.eot, special.timestamp_begin, max_tokens,
                                                            max_continuations, min_unsaid_s)]
    return [d.tokens for d in decode_windows(runner, encoded, special, window_s, max_tokens, speech_end_s, extra)]
