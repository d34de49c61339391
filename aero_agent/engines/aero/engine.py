"""``AeroEngine``: Aero-1-Audio behind the :class:`~aero_agent.engines.base.Engine` protocol.

``encode`` runs the audio encoder once over 30 s windows and prefills the system prompt and every
audio token into a KV cache (up to 15+ minutes in one pass). ``answer`` reuses that cache and the
cached earlier turns, so a follow-up prefills only its own tokens. Everything needed to answer is in
``EncodedAudio.tensors`` / ``.meta``, so a restored session answers without re-encoding.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from aero_agent.engines.aero.checkpoint import resolve_model_dir
from aero_agent.engines.aero.config import load_config
from aero_agent.engines.aero.conversation import Decoder, LiveConversation, TurnResult, drop_oldest, messages_for
from aero_agent.engines.aero.kv_cache import from_tensors, to_tensors
from aero_agent.engines.aero.model import build_model, pick_attention, pick_device, pick_dtype, random_model
from aero_agent.engines.aero.processor import DEFAULT_SYSTEM_PROMPT, AudioFeatures, AudioWindow, ChatTokens
from aero_agent.engines.aero.prompts import DESCRIBE_PROMPT, TRANSCRIBE_PROMPT, merge_prompt, transcribe_instruction
from aero_agent.engines.aero.windowing import SegmentPlan, plan_segments
from aero_agent.engines.base import EncodedAudio, EncodeProgress, EngineCapabilities, EngineReply, ProgressFn
from aero_agent.errors import InvalidArgumentError
from aero_agent.transcript import Segment, Transcript

if TYPE_CHECKING:  # a type hint only: the engine imports without audio decoding
    from aero_agent.audio import AudioClip

log = logging.getLogger(__name__)

FORMAT = 1
AUDIO_EMBEDS = "audio_embeds"


def _seg_names(index: int) -> tuple[str, str, str, str]:
    """Tensor names of one segment: prefix ids, prefix KV prefix, conversation ids, conversation KV prefix.

    The conversation's ids are saved as a tensor next to its keys/values, so the two always match
    even if a store saves ``tensors`` and ``meta`` at different times.
    """
    return f"seg{index}.prefix_ids", f"seg{index}.kv", f"seg{index}.turn_ids", f"seg{index}.turn"


class AeroEngine:
    """Aero-1-Audio (Qwen2-Audio encoder + Qwen2.5-1.5B) loaded natively from a checkpoint folder.

    Args:
        model: a local checkpoint folder, or a hub id such as ``lmms-lab/Aero-1-Audio`` (downloaded
            with ``huggingface_hub`` only because you named it).
        device: ``"cuda"``, ``"cpu"``...; default CUDA when available.
        dtype: default bfloat16 on CUDA (float16 on GPUs without bf16), float32 on CPU.
        max_context_tokens: context budget; default the model's ``max_position_embeddings`` (32k).
        max_new_tokens: cap on generated tokens per answer.
        reserve_tokens: context kept free for the conversation when deciding whether the audio fits
            one pass; longer audio is split into segments (see ``docs/aero.md``).
        segment_s, overlap_s: length and overlap of the segments of a recording longer than one pass.
        encoder_batch: windows per encoder batch.
        prefill_chunk: tokens per prefill forward for conversation text.
        max_live_caches: conversations kept as live caches in memory (least recently used dropped).
        attn_implementation: override the attention kernel (default flash-attn on CUDA if installed, else SDPA).
        system_prompt: ChatML system prompt.
        keep_prefix_kv: put the audio prefix's KV cache in ``EncodedAudio.tensors`` (about 646 MB for
            15 minutes with the real model in bf16). Without it, a restored session recomputes the
            prefix once from the stored audio embeddings (a language-model prefill, no re-encoding).
        revision: hub revision, when ``model`` is a hub id.
        liger: Liger's fused Qwen2 kernels when installed (default: on CUDA only).
        random_weights_seed: build the architecture of ``model``'s config.json with random weights instead
            of loading its safetensors (to measure speed and memory at full size without a checkpoint).
    """

    name = "aero"
    capabilities = EngineCapabilities(transcribe=True, timestamps=True, answer=True, describe=True)
    describe_prompt = DESCRIBE_PROMPT
    transcribe_prompt = TRANSCRIBE_PROMPT

    def __init__(self, model: str | Path, device: str | torch.device | None = None,
                 dtype: str | torch.dtype | None = None, max_context_tokens: int | None = None,
                 max_new_tokens: int = 1024, transcribe_max_new_tokens: int = 384, reserve_tokens: int = 4096,
                 segment_s: float = 900.0, overlap_s: float = 30.0, encoder_batch: int | None = None,
                 prefill_chunk: int = 2048, max_live_caches: int = 8, attn_implementation: str | None = None,
                 system_prompt: str = DEFAULT_SYSTEM_PROMPT, keep_prefix_kv: bool = True,
                 revision: str | None = None, liger: bool | None = None,
                 random_weights_seed: int | None = None) -> None:
        self.model_dir = resolve_model_dir(model, revision=revision)
        self.model_id = str(model)
        self.config = load_config(self.model_dir)
        self.device = pick_device(device)
        self.dtype = pick_dtype(self.device, dtype)
        self.attn_implementation = pick_attention(self.device, attn_implementation)
        self.chat = ChatTokens(self.model_dir, self.config.audio_token_index, system_prompt)
        self.features = AudioFeatures(self.model_dir, int(self.config.audio.num_mel_bins),
                                      self.config.frames_per_window)
        if random_weights_seed is None:
            self.model = build_model(self.model_dir, self.config, self.device, self.dtype, self.attn_implementation,
                                     liger=liger)
        else:
            self.model = random_model(self.config, self.device, self.dtype, self.attn_implementation,
                                      seed=random_weights_seed, liger=liger)
        self.max_context_tokens = int(max_context_tokens or self.config.max_context)
        if self.max_context_tokens > self.config.max_context:
            log.warning("max_context_tokens %d exceeds the model's %d positions", self.max_context_tokens,
                        self.config.max_context)
        self.max_new_tokens = int(max_new_tokens)
        self.transcribe_max_new_tokens = int(transcribe_max_new_tokens)
        self.reserve_tokens = int(min(reserve_tokens, self.max_context_tokens // 4))
        self.segment_s = float(segment_s)
        self.overlap_s = float(overlap_s)
        self.encoder_batch = int(encoder_batch or (8 if self.device.type == "cuda" else 2))
        self.decoder = Decoder(self.model, self.chat.eos_ids, prefill_chunk, self.max_context_tokens)
        self.max_live_caches = max(1, int(max_live_caches))
        self.keep_prefix_kv = bool(keep_prefix_kv)
        self._live: OrderedDict[tuple[str, int], LiveConversation] = OrderedDict()
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ encoding

    def fingerprint(self) -> dict[str, Any]:
        """What an :class:`EncodedAudio` must have been made with for this engine to reuse it."""
        text = self.config.text
        return {"layers": int(text.num_hidden_layers), "kv_heads": int(text.num_key_value_heads),
                "hidden": int(text.hidden_size), "audio_hidden": self.config.audio_hidden,
                "audio_token_index": self.config.audio_token_index, "system_prompt": self.chat.system_prompt}

    def plan(self, n_samples: int) -> tuple[list[AudioWindow], list[SegmentPlan]]:
        """The 30 s windows of a recording and how they are grouped into one or more prefix passes."""
        windows = self.features.plan(n_samples)
        if not windows:
            raise InvalidArgumentError("the audio is too short for one audio token")
        window_s = self.features.window_samples / 16_000
        segments = plan_segments(windows, header=len(self.chat.header()), separator=len(self.chat.window_ids(0, False)),
                                 budget=self.max_context_tokens - self.reserve_tokens,
                                 segment_windows=max(1, int(round(self.segment_s / window_s))),
                                 overlap_windows=max(0, int(round(self.overlap_s / window_s))))
        return windows, segments

    def check_options(self, options: Any) -> None:
        """Refuse a language or task (the model transcribes as it hears); a vocabulary is taken."""
        if options is not None and (options.language is not None or options.task != "transcribe"):
            from aero_agent.errors import CapabilityError

            raise CapabilityError("the aero engine takes no language or task option; use engine 'whisper'")

    def encode(self, clip: AudioClip, progress: ProgressFn | None = None, options: Any = None) -> EncodedAudio:
        """Features, batched encoder, projector, and prefill of system prompt + audio into KV caches.
        ``options``' vocabulary goes into the transcription instruction (kept in the encoded meta)."""
        self.check_options(options)
        with self._lock, torch.inference_mode():
            started = time.perf_counter()
            samples = clip.samples
            windows, segments = self.plan(len(samples))
            prefix_ids = [self.chat.prefix(windows[s.first:s.last]) for s in segments]
            caches = [self.decoder.new_cache(reserve=len(ids) + self.reserve_tokens) for ids in prefix_ids]
            header = self.chat.header()
            embeddings: list[torch.Tensor] = []
            done = 0
            for batch, feats, valid in self.features.batches(samples, windows, self.encoder_batch):
                for window, audio in zip(batch, self.model.encode_windows(feats, valid)):
                    embeddings.append(audio.detach().to("cpu").contiguous())
                    for seg, cache in zip(segments, caches):
                        if seg.first <= window.index < seg.last:
                            first = window.index == seg.first
                            ids = (header if first else []) + self.chat.window_ids(window.tokens, first)
                            self.decoder.prefill_audio(cache, ids, audio, self.config.audio_token_index)
                    done += 1
                    if progress is not None:
                        progress(EncodeProgress(done=done, total=len(windows)))
            tensors: dict[str, torch.Tensor] = {AUDIO_EMBEDS: torch.cat(embeddings, dim=0).contiguous()}
            seg_meta = []
            cache_id = uuid.uuid4().hex
            for seg, ids, cache in zip(segments, prefix_ids, caches):
                if cache.get_seq_length() != len(ids):
                    raise RuntimeError(f"segment {seg.index}: cached {cache.get_seq_length()} of {len(ids)} ids")
                ids_name, kv_name, _, _ = _seg_names(seg.index)
                tensors[ids_name] = torch.tensor(ids, dtype=torch.int64)
                if self.keep_prefix_kv:
                    tensors.update(to_tensors(cache.layer_tensors(device="cpu"), kv_name))
                seg_meta.append({"index": seg.index, "first_window": seg.first, "last_window": seg.last,
                                 "start_s": windows[seg.first].start_s, "end_s": windows[seg.last - 1].end_s,
                                 "prefix_len": len(ids), "turn_tokens": 0})
                self._remember((cache_id, seg.index), LiveConversation(cache, list(ids), len(ids)))
            meta = {
                "format": FORMAT, "cache_id": cache_id, "fingerprint": self.fingerprint(),
                "dtype": str(self.dtype).removeprefix("torch."), "windows": [w.to_json() for w in windows],
                "segments": seg_meta, "audio_tokens": int(tensors[AUDIO_EMBEDS].shape[0]),
                "max_context_tokens": self.max_context_tokens,
                "encode_seconds": round(time.perf_counter() - started, 3),
            }
            if options is not None and options.vocabulary:
                meta["vocabulary"] = list(options.vocabulary)
            # the conversation cache changes every turn; the store re-saves only these tensors
            return EncodedAudio(engine=self.name, model_id=self.model_id, duration_s=clip.duration_s,
                                tensors=tensors, meta=meta,
                                volatile_tensor_prefixes=tuple(_seg_names(seg.index)[3] for seg in segments))

    # ------------------------------------------------------------------ live caches

    def _remember(self, key: tuple[str, int], conv: LiveConversation) -> None:
        self._live[key] = conv
        self._live.move_to_end(key)
        while len(self._live) > self.max_live_caches:
            self._live.popitem(last=False)

    def _check(self, encoded: EncodedAudio) -> None:
        meta = encoded.meta or {}
        if encoded.engine != self.name or meta.get("format") != FORMAT:
            raise InvalidArgumentError(f"this encoded audio was made by engine {encoded.engine!r} "
                                       f"(format {meta.get('format')}), not by aero format {FORMAT}")
        if meta.get("fingerprint") != self.fingerprint():
            raise InvalidArgumentError(f"this encoded audio was made with a different Aero checkpoint or system "
                                       f"prompt ({encoded.model_id}); encode the audio again")

    def _conversation(self, encoded: EncodedAudio, seg: dict, reuse_cache: bool) -> tuple[LiveConversation, int]:
        """The live cache of a segment and how many prefix tokens had to be recomputed for it.

        Taken from memory when it holds exactly what ``encoded`` records, else rebuilt from the saved
        tensors, else recomputed from the stored audio embeddings (never re-encoding the audio).
        """
        key = (encoded.meta["cache_id"], int(seg["index"]))
        ids_name, kv_name, turn_ids_name, turn_name = _seg_names(int(seg["index"]))
        prefix_ids = [int(i) for i in encoded.tensors[ids_name].tolist()] if ids_name in encoded.tensors else None
        if prefix_ids is None:
            raise InvalidArgumentError(f"encoded audio lacks {ids_name!r}; encode the audio again")
        saved = encoded.tensors.get(turn_ids_name)
        turn_ids = [int(i) for i in saved.tolist()] if saved is not None else []
        live = self._live.get(key) if reuse_cache else None
        if live is not None and live.ids == prefix_ids + turn_ids and live.cache.get_seq_length() == len(live.ids):
            self._live.move_to_end(key)
            return live, 0
        if reuse_cache:
            self._live.pop(key, None)
        layers = int(self.config.text.num_hidden_layers)
        cache = self.decoder.new_cache(reserve=len(prefix_ids) + len(turn_ids) + self.reserve_tokens)
        prefix = from_tensors(encoded.tensors, kv_name, layers, self.device, self.dtype) if reuse_cache else None
        recomputed = 0
        if prefix is not None and prefix[0][0].shape[-2] == len(prefix_ids):
            cache.append(prefix)
            conv = LiveConversation(cache, list(prefix_ids), len(prefix_ids))
        else:  # no usable KV: recompute the prefix from the stored audio embeddings (no re-encoding)
            if AUDIO_EMBEDS not in encoded.tensors:
                raise InvalidArgumentError("encoded audio has neither a KV cache nor audio embeddings; encode again")
            audio = self._segment_audio(encoded, seg)
            self.decoder.prefill_audio(cache, prefix_ids, audio, self.config.audio_token_index)
            conv = LiveConversation(cache, list(prefix_ids), len(prefix_ids))
            recomputed = len(prefix_ids)
        turns = from_tensors(encoded.tensors, turn_name, layers, self.device, self.dtype) if reuse_cache else None
        if turn_ids and turns is not None and turns[0][0].shape[-2] == len(turn_ids):
            cache.append(turns)  # a turn's keys/values depend only on the ids before it: valid after either path
            conv.ids.extend(turn_ids)
        if reuse_cache:
            self._remember(key, conv)
        return conv, recomputed

    def _segment_audio(self, encoded: EncodedAudio, seg: dict) -> torch.Tensor:
        windows = [AudioWindow.from_json(w) for w in encoded.meta["windows"]]
        start = sum(w.tokens for w in windows[: int(seg["first_window"])])
        count = sum(w.tokens for w in windows[int(seg["first_window"]): int(seg["last_window"])])
        return encoded.tensors[AUDIO_EMBEDS][start:start + count]

    def _save_turns(self, encoded: EncodedAudio, seg: dict, conv: LiveConversation) -> None:
        """Write the cached conversation (its ids and keys/values) back into ``encoded.tensors``."""
        _, _, turn_ids_name, turn_name = _seg_names(int(seg["index"]))
        for name in [n for n in encoded.tensors if n.startswith(turn_name + ".") or n == turn_ids_name]:
            del encoded.tensors[name]
        turn_ids = conv.ids[conv.prefix_len:]
        seg["turn_tokens"] = len(turn_ids)
        if turn_ids:
            encoded.tensors[turn_ids_name] = torch.tensor(turn_ids, dtype=torch.int64)
            encoded.tensors.update(to_tensors(conv.cache.layer_tensors(start=conv.prefix_len, device="cpu"),
                                              turn_name))

    # ------------------------------------------------------------------ answering

    def _turn(self, encoded: EncodedAudio, seg: dict, prompt: str, history: Sequence[Any],
              max_new_tokens: int, reuse_cache: bool) -> tuple[TurnResult, dict[str, Any]]:
        conv, recomputed = self._conversation(encoded, seg, reuse_cache)
        messages = messages_for(history, prompt)
        dropped = 0
        suffix = self.chat.conversation(messages)
        budget = self.max_context_tokens - min(max_new_tokens, self.reserve_tokens)
        while conv.prefix_len + len(suffix) > budget:
            shorter = drop_oldest(messages)
            if shorter is None or len(shorter) >= len(messages):
                break
            messages, dropped = shorter, dropped + 1
            suffix = self.chat.conversation(messages)
        if conv.prefix_len + len(suffix) >= self.max_context_tokens:
            raise InvalidArgumentError(f"the prompt does not fit the {self.max_context_tokens}-token context "
                                       f"next to {conv.prefix_len} audio prefix tokens")
        key = (encoded.meta["cache_id"], int(seg["index"]))
        try:
            result = self.decoder.answer(conv, suffix, max_new_tokens)
        except BaseException:
            self._live.pop(key, None)  # the cache may be half-updated: rebuild it next time
            raise
        if reuse_cache:
            self._save_turns(encoded, seg, conv)
        result.prefilled += recomputed
        return result, {"dropped_exchanges": dropped, "recomputed_prefix_tokens": recomputed}

    def answer(self, encoded: EncodedAudio, prompt: str, history: Sequence[Any] = (),
               max_new_tokens: int | None = None, reuse_cache: bool = True) -> EngineReply:
        """Greedy answer to ``prompt`` about the audio after ``history`` (Turns with role user/assistant).

        With ``reuse_cache=False`` the language model recomputes the whole conversation from the
        stored audio embeddings (used to check that caching changes nothing).
        """
        if not isinstance(prompt, str) or not prompt.strip():
            raise InvalidArgumentError("the prompt is empty")
        limit = int(max_new_tokens or self.max_new_tokens)
        with self._lock, torch.inference_mode():
            self._check(encoded)
            started = time.perf_counter()
            segments = encoded.meta["segments"]
            if len(segments) == 1:
                result, extra = self._turn(encoded, segments[0], prompt, history, limit, reuse_cache)
                text = self.chat.decode(result.generated)
                cached = 0 if extra["recomputed_prefix_tokens"] else result.reused
                metadata = {"token_ids": result.generated, "cached_tokens": cached, "context_tokens": result.context,
                            "stopped": result.stopped, "segments": 1,
                            "seconds": round(time.perf_counter() - started, 3), **extra}
                return EngineReply(text=text.strip(), prefilled_tokens=result.prefilled,
                                   generated_tokens=len(result.generated), metadata=metadata)
            return self._answer_windowed(encoded, prompt, history, limit, reuse_cache, started)

    def _answer_windowed(self, encoded: EncodedAudio, prompt: str, history: Sequence[Any], limit: int,
                         reuse_cache: bool, started: float) -> EngineReply:
        """Ask every segment, then merge the partial answers with a text-only pass."""
        parts: list[tuple[float, float, str]] = []
        prefilled = generated = 0
        for seg in encoded.meta["segments"]:
            result, _ = self._turn(encoded, seg, prompt, history, limit, reuse_cache)
            parts.append((float(seg["start_s"]), float(seg["end_s"]), self.chat.decode(result.generated)))
            prefilled += result.prefilled
            generated += len(result.generated)
        shown = parts
        ids = self.chat.text_only(merge_prompt(prompt, shown))
        while len(ids) + limit > self.max_context_tokens and any(len(t) > 80 for _, _, t in shown):
            shown = [(s, e, t[: max(80, int(len(t) * 0.75))]) for s, e, t in shown]  # fit the merge prompt
            ids = self.chat.text_only(merge_prompt(prompt, shown))
        merged = self.decoder.text_only(ids, limit)
        return EngineReply(text=self.chat.decode(merged.generated).strip(),
                           prefilled_tokens=prefilled + merged.prefilled,
                           generated_tokens=generated + len(merged.generated),
                           metadata={"segments": len(parts), "stopped": merged.stopped,
                                     "partial_answers": [{"start": s, "end": e, "text": t.strip()}
                                                         for s, e, t in parts],
                                     "seconds": round(time.perf_counter() - started, 3)})

    def describe(self, encoded: EncodedAudio, history: Sequence[Any] = ()) -> EngineReply:
        """Sounds, music and speaker emotion: :data:`DESCRIBE_PROMPT` through :meth:`answer`."""
        return self.answer(encoded, DESCRIBE_PROMPT, history)

    # ------------------------------------------------------------------ transcription

    def transcribe(self, encoded: EncodedAudio) -> Transcript:
        """One segment per 30 s window, each transcribed from its stored audio embeddings.

        Runs a short prefix (system + one window) per window, not the long cache, so segment times
        are the window bounds; the result is kept in ``encoded`` and reused.
        """
        with self._lock, torch.inference_mode():
            self._check(encoded)
            windows = [AudioWindow.from_json(w) for w in encoded.meta["windows"]]
            texts = encoded.meta.get("window_transcripts")
            if not isinstance(texts, list) or len(texts) != len(windows):
                texts = []
                audio = encoded.tensors[AUDIO_EMBEDS]
                offset = 0
                instruction = transcribe_instruction(self.transcribe_prompt, encoded.meta.get("vocabulary") or ())
                suffix = self.chat.conversation([("user", instruction)])
                for w in windows:
                    ids = self.chat.prefix([w])
                    cache = self.decoder.new_cache(reserve=len(ids) + len(suffix) + self.transcribe_max_new_tokens)
                    self.decoder.prefill_audio(cache, ids, audio[offset:offset + w.tokens],
                                               self.config.audio_token_index)
                    conv = LiveConversation(cache, list(ids), len(ids))
                    result = self.decoder.answer(conv, suffix, self.transcribe_max_new_tokens)
                    texts.append(self.chat.decode(result.generated).strip())
                    offset += w.tokens
                encoded.meta["window_transcripts"] = texts
            segments = [Segment(start=round(w.start_s, 3), end=round(w.end_s, 3), text=t)
                        for w, t in zip(windows, texts) if t]
            transcript = Transcript(segments=segments, duration_s=encoded.duration_s)
            encoded.transcript = transcript
            return transcript
