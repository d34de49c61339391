"""WhisperEngine: a transcript-only engine over Whisper (options in options.py, the job queue in jobs.py, the
batched pipeline in pipeline.py; this module loads the model and runs one batch through it)."""

from __future__ import annotations

import copy
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from functools import partial
from typing import TYPE_CHECKING, ContextManager, Sequence

import numpy as np
import torch

from aero_agent.engines.base import EncodedAudio, EngineCapabilities, EngineReply, ProgressFn
from aero_agent.engines.whisper.biasing import VocabularyBias
from aero_agent.engines.whisper.chunking import SpeechMap, Window
from aero_agent.engines.whisper.background import in_background, ready
from aero_agent.engines.whisper.decoding import (Decoded, DecoderRunner, Fusion, LogitRule, RefuseEarlyEnd,
                                                 SpecialTokens, tokens_to_segments)
from aero_agent.engines.whisper.encoder import encode, pad_batch
from aero_agent.engines.whisper.features import SAMPLE_RATE, LogMel
from aero_agent.engines.whisper.guards import drop_repeats, is_caption
from aero_agent.engines.whisper.jobs import Job, JobQueue
from aero_agent.engines.whisper.languages import ClipLanguage, LanguagePrompts, prompt_groups
from aero_agent.engines.whisper.memory import ENCODER_ROWS, PackedRows, bound_kernel_cache, release_large_blocks
from aero_agent.engines.whisper.models import load_checkpoint
from aero_agent.engines.whisper.options import WhisperOptions, encoder_dtype, encoder_int8
from aero_agent.engines.whisper.pipeline import run_batches
from aero_agent.engines.whisper.quantize import cast_copy, int8_linears
from aero_agent.engines.whisper.search import decode_windows
from aero_agent.engines.whisper.timing import WordAligner, WordTiming
from aero_agent.errors import CapabilityError, InvalidArgumentError
from aero_agent.results import Turn
from aero_agent.sound_events import SoundEventDetector, merge_events
from aero_agent.threads import torch_threads
from aero_agent.transcript import AudioEvent, Segment, Transcript, Word
from aero_agent.transcription import TranscribeOptions
from aero_agent.vad import SileroVad

if TYPE_CHECKING:  # a type hint only: the engine imports without audio decoding
    from aero_agent.audio import AudioClip


class WhisperEngine:
    """Transcribes with any Whisper checkpoint; by default the embedded offline ``tiny.en``.

    The voice activity detector decides what is decoded: its speech regions are grouped into windows of at
    most 30 s, sound it rejects is decoded in windows of its own, and Whisper's guards drop what still reads
    as a hallucination. Windows go through the encoder and the decoder in batches of ``batch_size``; segment
    times come from Whisper's timestamp tokens, word times from cross-attention alignment. Sound left without
    words is reported as non-speech events.

    Tuning is one :class:`WhisperOptions`; keyword arguments (``batch_size=4``) replace its fields.
    """

    name = "whisper"
    capabilities = EngineCapabilities(transcribe=True, timestamps=True, answer=False, describe=False)

    def __init__(self, model: str | None = None, options: WhisperOptions | None = None, **tuning: object) -> None:
        known = {f.name for f in fields(WhisperOptions)}
        unknown = sorted(set(tuning) - known)
        if unknown:
            raise InvalidArgumentError(f"unknown Whisper option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        self.options = replace(options or WhisperOptions(), **tuning)  # type: ignore[arg-type]
        release_large_blocks()
        bound_kernel_cache()
        checkpoint = load_checkpoint(model)
        self.model_id = checkpoint.model_id
        self.model = checkpoint.model
        self.tokenizer = checkpoint.tokenizer
        self.batch_size = max(1, self.options.batch_size)
        self.workers = max(1, self.options.workers or min(2, os.cpu_count() or 1))
        self.mel = LogMel(self.model.config.num_mel_bins)
        self.encoder = self.model.model.encoder
        english_only = self.model.config.vocab_size < 51865
        self.int8_encoder = encoder_int8(self.options.int8_encoder, english_only)
        self.encoder_dtype = (torch.float32 if self.int8_encoder
                              else encoder_dtype(self.options.encoder_dtype, english_only))
        self.timings = {"encoder": 0.0, "decoder": 0.0, "words": 0.0}  # seconds spent, for benchmarks
        with torch_threads(1):
            if self.int8_encoder:  # copies: the float32 model stays as loaded
                self.encoder = int8_linears(self.encoder)
            elif self.encoder_dtype != torch.float32:
                self.encoder = cast_copy(self.encoder, self.encoder_dtype)
        # the decoder's int8 copies, on one torch thread (0.46 CPU s against 1.15 on two, tiny.en, loaded machine),
        # beside the voice detection of the first recording: see the ``runner`` property
        self._runner = in_background(lambda: DecoderRunner(self.model, int8=self.options.int8,
                                                                 per_row=self.options.int8_per_row), "aero-decoder")
        self._aligner: WordAligner | None = None
        self.alignment_heads = checkpoint.alignment_heads
        sot = checkpoint.token("<|startoftranscript|>")
        prompt = (sot,) if english_only else (sot, checkpoint.token("<|en|>"), checkpoint.token("<|transcribe|>"))
        no_ts = checkpoint.token("<|notimestamps|>")
        self.special = SpecialTokens(
            eot=checkpoint.token("<|endoftext|>"), sot_sequence=prompt, no_timestamps=no_ts,
            timestamp_begin=no_ts + 1, suppress=tuple(checkpoint.suppress_ids),
            suppress_begin=tuple(checkpoint.suppress_ids_begin), no_speech=checkpoint.no_speech_id(),
            startofprev=self.tokenizer.token_to_id("<|startofprev|>"))
        self.languages = LanguagePrompts(self.tokenizer, sot, self.model_id, english_only)
        self._clip_languages: list[ClipLanguage] = []  # per clip of the call in progress (set under the lock)
        self._detected: dict[tuple[int, Window], torch.Tensor] = {}  # encoder states the detection computed
        self._float_runner: DecoderRunner | None = None  # see _detection_runner
        self.vad = SileroVad()
        self.sound_events: SoundEventDetector | None = SoundEventDetector()
        self._lock = threading.Lock()  # one encoding at a time: the two cores are shared

    def variant(self, **changes: object) -> "WhisperEngine":
        """A twin with some options changed, sharing the model, the weights, the VAD and the lock (the live
        path's engine); the decoder is rebuilt only when ``int8`` changes (the float32 weights stay loaded)."""
        twin = copy.copy(self)
        twin.options = replace(self.options, **changes)  # type: ignore[arg-type]
        if twin.options.int8 != self.options.int8:
            with torch_threads(1):  # see __init__
                twin._runner, twin._aligner = ready(DecoderRunner(self.model, int8=twin.options.int8)), None
        return twin

    @property
    def runner(self) -> DecoderRunner:
        """The decoder step. Built on a background thread from the engine's load on, so that it costs no wall time
        while the first recording's voice activity is computed (the first use waits for it): near idle, 3.09 s
        against 3.29 s for a whole ``aero-agent transcribe`` of 11 s (farm-bench, 5 pairs, load ~1); under load
        (~10) 2.6 % more CPU time. Overlapping the first encoder pass too cost 10 % under load."""
        return self._runner.result()

    @property
    def aligner(self) -> WordAligner:
        """The word aligner over :attr:`runner` (made on first use)."""
        if self._aligner is None:
            self._aligner = WordAligner(self.runner, self.tokenizer, self.special, self.alignment_heads)
        return self._aligner

    def speech_map(self, samples: np.ndarray) -> SpeechMap:
        """Speech regions and sound of a recording, as this engine sees them."""
        return SpeechMap(samples, self.vad.probabilities(samples), self.options.vad, self.options.sound)

    def windows(self, samples: np.ndarray) -> list[Window]:
        """The windows this engine decodes: speech, then doubtful sound."""
        return self.speech_map(samples).windows()

    @torch.inference_mode()
    def _encode_batch(self, batch: Sequence[Job], detection: bool = False) -> torch.Tensor:
        """Log-mel features and encoder states for up to ``batch_size`` jobs (``detection``: for language
        detection, on the float32 encoder as loaded and doubtful windows on the speech windows' input)."""
        t0 = time.perf_counter()
        min_s = self.options.min_window_s if detection else self._min_window_s(batch)
        encoder, dtype = (self.model.model.encoder, torch.float32) if detection else (self.encoder, self.encoder_dtype)
        samples = pad_batch([job.audio() for job in batch], min_s)
        encoded: torch.Tensor | None = None
        for lo in range(0, len(samples), ENCODER_ROWS):  # a few at a time (see ENCODER_ROWS), written in place
            states = encode(encoder, self.mel(samples[lo: lo + ENCODER_ROWS]).to(dtype))
            if encoded is None:
                encoded = torch.empty((len(samples), *states.shape[1:]), dtype=torch.float32)
            encoded[lo: lo + len(states)] = states
        self.timings["encoder"] += time.perf_counter() - t0
        assert encoded is not None
        return encoded

    def _min_window_s(self, batch: Sequence[Job]) -> float | None:
        """The shortest encoder input of a batch (None: 30 s); see :func:`encoder.window_samples`."""
        if self.options.min_window_s is not None:
            return self.options.min_window_s
        return self.options.side_min_s if all(job.side for job in batch) else None

    def _rules(self, batch: Sequence[Job]) -> tuple[list[LogitRule], list[float] | None]:
        if not self.options.continue_early_ends:
            return [], None
        rule = RefuseEarlyEnd(self.special.eot, self.special.timestamp_begin, 224)
        return [rule], [job.speech_end_s for job in batch]

    def _call_decoding(self, options: TranscribeOptions) -> "CallDecoding":
        """How one call decodes: the caller's beam size (None: the engine's policy, with or without a
        vocabulary), and the bias that favours its vocabulary and the prompt that vocabulary adds to every window
        (when on)."""
        bias, prompt = self._vocabulary_decoding(options.vocabulary.terms)
        return CallDecoding(options.beam_size, bias, prompt)

    def _vocabulary_decoding(self, terms: Sequence[str]) -> tuple[Fusion | None, tuple[int, ...]]:
        """The bias that favours the call's vocabulary, and the prompt it adds to every window (when on)."""
        if not terms:
            return None, ()
        bias = None
        if self.options.vocabulary_bonus:
            bias = VocabularyBias.of(self.tokenizer, terms, self.options.vocabulary_bonus,
                                     self.options.vocabulary_min_p, self.options.vocabulary_split_guard,
                                     self.options.vocabulary_rewrite_min_p, self.options.vocabulary_by_share)
        prompt: tuple[int, ...] = ()
        if self.options.vocabulary_prompt:  # as many terms as fit half the prompt budget
            prompt = self.prompt_tokens([", ".join(terms)])[0][: self.runner.max_prompt // 2]
        return bias, prompt

    @torch.inference_mode()
    def _cross(self, encoded: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The decoder's cross-attention keys and values of a batch's encoder states (timed as decoding)."""
        t0 = time.perf_counter()
        cross = self.runner.cross_keys_values(encoded)
        self.timings["decoder"] += time.perf_counter() - t0
        return cross

    @torch.inference_mode()
    def _decode_batch(self, batch: Sequence[Job], cross: list[tuple[torch.Tensor, torch.Tensor]],
                      special: SpecialTokens | None = None, call: "CallDecoding | None" = None) -> list[list[Segment]]:
        """Timed segments (with word times) of each job, in clip time, from greedy decoding of its
        cross-attention keys and values (``_cross``); windows the guards reject come back empty. ``cross`` is
        emptied: the aligner frees it once read."""
        special, call = special or self.special, call or CallDecoding()
        t0 = time.perf_counter()
        rules, speech_end = self._rules(batch)
        beams, retry = self.options.beam.plan(call.beam_size, all(job.side for job in batch),
                                              max(job.speech.n for job in batch) / SAMPLE_RATE)
        decoded = decode_windows(self.runner, None, special, [job.duration_s for job in batch],
                                 speech_end_s=speech_end, extra_rules=rules, cross=cross,
                                 prompts=[call.prompt + job.prompt for job in batch], beam_size=beams, retry=retry,
                                 fusion=call.bias)
        texts = [[t for t in d.tokens if t < self.special.eot] for d in decoded]
        kept = [self.options.guards.accepts(d, self.tokenizer.decode(text), job.side)
                for d, text, job in zip(decoded, texts, batch)]
        for job, d, text, keep in zip(batch, decoded, texts, kept):  # what the next window may be decoded after
            said = d.tokens if self.options.prompt_timestamps else text
            job.said = tuple(said) if keep and d.avg_logprob >= self.options.guards.logprob_threshold else ()
        self.timings["decoder"] += time.perf_counter() - t0
        words: list[list[WordTiming]] = [[] for _ in batch]
        if self.options.word_timestamps and any(kept):
            t0 = time.perf_counter()
            index = [k for k, keep in enumerate(kept) if keep]
            keys_values = PackedRows(cross).keep(index)  # packed in place; align frees them once read
            cross.clear()
            aligned = self.aligner.align(keys_values,
                                         [texts[k] for k in index], [batch[k].duration_s for k in index], special)
            for k, timed in zip(index, aligned):
                words[k] = timed
            self.timings["words"] += time.perf_counter() - t0
        return [self._segments(job, d, timed) if keep else []
                for job, d, timed, keep in zip(batch, decoded, words, kept)]

    def _segments(self, job: Job, decoded: Decoded, timed: list[WordTiming]) -> list[Segment]:
        """A window's segments in clip time, each with the words whose first token falls in it (captions of
        non-speech sound left out)."""
        found, offset = [], 0
        for start, stop, ids in tokens_to_segments(decoded.tokens, self.special, 0.0, job.duration_s):
            text = self.tokenizer.decode(ids).strip()
            first, offset = offset, offset + len(ids)
            if is_caption(text):  # "Music", "[Applause]": sound, which the events report, not words
                continue
            t0_s, t1_s = job.place(start, stop)
            seg_words = [self._word(job, w) for w in timed if first <= w.first_token < offset] if timed else None
            if seg_words and not self.options.guards.keeps_segment([w.probability for w in seg_words]):
                continue  # not one word the decoder believed: a hallucination on sound
            found.append(Segment(start=round(t0_s, 2), end=round(t1_s, 2), text=text,
                                 words=seg_words if self.options.word_timestamps else None))
        return found

    def _word(self, job: Job, w: WordTiming) -> Word:
        start, end = job.place(w.start, w.end)
        return Word(start=round(start, 3), end=round(end, 3), word=w.word, probability=round(w.probability, 4))

    def _run_batch(self, batch: Sequence[Job], call: "CallDecoding | None" = None) -> list[list[Segment]]:
        """Encode then decode one batch of a call (the decoder on ``decode_threads`` when running alone)."""
        groups = prompt_groups([self._prompt(job) for job in batch])
        if len(groups) > 1:  # clips in different languages: each decodes with its own prompt
            out: list[list[Segment]] = [[] for _ in batch]
            for group in groups:
                for k, segments in zip(group, self._run_batch([batch[k] for k in group], call)):
                    out[k] = segments
            return out
        special = replace(self.special, sot_sequence=self._prompt(batch[0]))
        cross = self._cross(self._encode_reusing(batch))  # the encoder states are freed once projected
        if self.workers > 1 and torch.get_num_threads() == 1:
            return self._decode_batch(batch, cross, special, call)
        with self._threads(self.options.decode_threads):
            return self._decode_batch(batch, cross, special, call)

    def _encode_reusing(self, batch: Sequence[Job]) -> torch.Tensor:
        """Encoder states of a batch, taking those of windows the language detection already encoded (a short
        recording is then encoded once, not twice)."""
        early = [self._detected.pop((job.clip, job.window), None) for job in batch]
        if self._min_window_s(batch) is not None:  # the detection encoded 30 s; this batch runs shorter
            return self._encode_batch(batch)
        missing = [k for k, states in enumerate(early) if states is None]
        if len(missing) == len(batch):
            return self._encode_batch(batch)
        if missing:
            for k, states in zip(missing, self._encode_batch([batch[k] for k in missing])):
                early[k] = states
        return torch.stack(early)  # type: ignore[arg-type]

    def _prompt(self, job: Job) -> tuple[int, ...]:
        if job.clip < len(self._clip_languages):
            return self._clip_languages[job.clip].prompt
        return self.special.sot_sequence

    def check_options(self, options: TranscribeOptions | None) -> None:
        """Raise :class:`~aero_agent.errors.EnglishOnlyModelError` (or an invalid-argument error) before any work
        when ``options`` ask what this model cannot do."""
        self.languages.check(options or TranscribeOptions())

    def transcribe_clips(self, clips: Sequence[AudioClip], progress: ProgressFn | None = None,
                         options: TranscribeOptions | None = None,
                         prompts: Sequence[str] | None = None) -> list[Transcript]:
        """Transcribe several clips, batching their windows together; one transcript per clip.

        Long audio runs on ``workers`` threads with one core each, every one encoding then decoding its
        own batch: the encoder is compute-bound and the decoder memory-bound, so two batches in flight
        keep both cores busy. Audio that fits one batch is encoded on all cores, then decoded.

        Any stretch of a window that still holds speech but got no segment (Whisper sometimes ends a
        window early) goes back into the queue as a window of its own, so no words are lost.

        ``options`` set the language (detected from each clip's first speech window by default on a
        multilingual model) and the task; each transcript reports its language.

        ``prompts`` (one text per clip, "" for none): text the clip's first window is decoded after, as
        Whisper's ``initial_prompt`` (spellings, names, the words before the clip); it steers the words, and
        never appears in the transcript itself.
        """
        options = options or TranscribeOptions()
        self.check_options(options)
        if prompts is not None and len(prompts) != len(clips):
            raise InvalidArgumentError(f"{len(prompts)} prompts for {len(clips)} clips: give one per clip")
        with self._lock:
            try:
                return self._transcribe_locked(clips, progress, options, self.prompt_tokens(prompts or ()))
            finally:
                self._clip_languages, self._detected = [], {}

    def prompt_tokens(self, texts: Sequence[str]) -> list[tuple[int, ...]]:
        """Each text as a decoder prompt: its tokens after a space, as Whisper encodes ``initial_prompt``."""
        return [tuple(self.tokenizer.encode(" " + text.strip(), add_special_tokens=False).ids) if text.strip() else ()
                for text in texts]

    def _transcribe_locked(self, clips: Sequence[AudioClip], progress: ProgressFn | None,
                           options: TranscribeOptions = TranscribeOptions(),
                           prompts: Sequence[tuple[int, ...]] = ()) -> list[Transcript]:
        events = self.sound_events  # None in a live twin: the session hears events on the stream itself
        with ThreadPoolExecutor(1, thread_name_prefix="aero-events") as events_pool:
            probes = [events_pool.submit(events.probe, c.samples) for c in clips] if events else []
            with self._threads(1):  # the detector's small recurrent steps run best on one thread (the probes: the
                maps = [self.speech_map(c.samples) for c in clips]  # other core)
            if events is None:
                return self._decode_clips(clips, maps, progress, options, prompts)
            heard = [events_pool.submit(lambda c, m, p: events.detect(c.samples, m.spans, p.result()), c, m, p)
                     for c, m, p in zip(clips, maps, probes)]  # the rest beside the decoding
            transcripts = self._decode_clips(clips, maps, progress, options, prompts)
            return [merge_events(t, found.result()) for t, found in zip(transcripts, heard)]

    def _decode_clips(self, clips: Sequence[AudioClip], maps: list[SpeechMap], progress: ProgressFn | None,
                      options: TranscribeOptions, prompts: Sequence[tuple[int, ...]]) -> list[Transcript]:
        self._clip_languages = self._languages(clips, maps, options)
        jobs = [Job.of(k, c.samples, w, m) for k, (c, m) in enumerate(zip(clips, maps)) for w in m.windows()]
        for k, prompt in enumerate(prompts):  # on the clip's first window: speech first, then in time order
            firsts = [job for job in jobs if job.clip == k]
            if prompt and firsts:
                min(firsts, key=lambda job: (job.window.doubtful, job.window.start)).prompt = prompt
        queue = JobQueue(self.batch_size, self.options.side_min_s is not None and self.options.min_window_s is None,
                          self.runner.max_prompt)
        queue.extend(jobs)
        workers = 1 if len(jobs) <= self.batch_size else self.workers
        if self.options.condition_on_previous_text:
            queue.chain(self.options.streams or self.batch_size * workers)
        with self._threads():
            found = run_batches(queue, partial(self._run_batch, call=self._call_decoding(options)), workers, maps,
                                [c.samples for c in clips],
                                self.options.repair_rounds, progress)
        transcripts = [self._transcript(c, segs, m) for c, segs, m in zip(clips, found, maps)]
        for transcript, lang in zip(transcripts, self._clip_languages):
            transcript.language, transcript.language_probability = lang.language, lang.probability
            transcript.task = options.task
        return transcripts

    @torch.inference_mode()
    def _languages(self, clips: Sequence[AudioClip], maps: Sequence[SpeechMap],
                   options: TranscribeOptions) -> list[ClipLanguage]:
        """Each clip's language and prompt: as given, or detected from its first speech window (as Whisper
        detects from its first 30 s), the clips' first windows encoded in batches on the float32 encoder as
        loaded, whatever the transcription encodes in (exact for the reason :meth:`_detection_runner` gives)."""
        if not self.languages.needs_detection(options):
            return [self.languages.fixed(options)] * len(clips)
        firsts = {}
        for k, (clip, smap) in enumerate(zip(clips, maps)):
            windows = sorted(smap.windows(), key=lambda w: (w.doubtful, w.start))
            if windows:
                firsts[k] = Job.of(k, clip.samples, windows[0], smap)
        found, jobs = {}, list(firsts.items())
        for lo in range(0, len(jobs), self.batch_size):
            batch = jobs[lo: lo + self.batch_size]
            encoded = self._encode_batch([job for _, job in batch], detection=True)
            found.update(zip([k for k, _ in batch], self.languages.detect(self._detection_runner(), encoded)))
            self._detected.update({(k, job.window): states for (k, job), states in zip(batch, encoded)})
        return [self.languages.of(found[k][0], options, found[k][1]) if k in found else self.languages.fixed(options)
                for k in range(len(clips))]

    def _detection_runner(self) -> DecoderRunner:
        """The decoder that detects languages: float32 weights and values, built on first use. Detection is one
        step per clip, so exactness costs nothing, while the int8 decoder with float16 values moved base's
        probability of German on tests/data/espeak_de.flac from 0.52 to 0.43."""
        if not self.options.int8 and self.runner.values_dtype == torch.float32:
            return self.runner
        if self._float_runner is None:
            self._float_runner = DecoderRunner(self.model, int8=False, values_dtype=torch.float32)
        return self._float_runner

    @staticmethod
    def _transcript(clip: AudioClip, segments: list[Segment], speech: SpeechMap) -> Transcript:
        """The clip's transcript: segments in time order with segment ends and word times kept off the silence around speech,
        and the sound no segment covers as non-speech events."""
        segments = drop_repeats(segments)  # a loop over music, a word decoded by two windows: kept once
        for seg in segments:
            # a closing timestamp Whisper placed in the silenced pause after the speech (seen 1.6 s into it);
            # starts stay Whisper's (a segment opening a window keeps the window's lead-in, as captions expect)
            seg.end = round(speech.snap(seg.start, seg.end)[1], 2)
            for word in seg.words or []:
                word.start, word.end = (round(t, 3) for t in speech.snap(word.start, word.end))
        events = [AudioEvent(start=round(a, 2), end=round(b, 2))
                  for a, b in speech.events([(s.start, s.end) for s in segments])]
        return Transcript(segments=segments, events=events, duration_s=round(clip.duration_s, 3))

    def encode(self, clip: AudioClip, progress: ProgressFn | None = None,
               options: TranscribeOptions | None = None) -> EncodedAudio:
        """Transcribe the whole clip once (in the language and task of ``options``); the transcript is what
        later turns read."""
        transcript = self.transcribe_clips([clip], progress, options)[0]
        return EncodedAudio(engine=self.name, model_id=self.model_id, duration_s=clip.duration_s,
                            transcript=transcript, meta={"segments": len(transcript.segments),
                                                         "events": len(transcript.events),
                                                         "language": transcript.language, "task": transcript.task})

    def _threads(self, count: int | None = None) -> ContextManager[None]:
        """Torch's thread count for a block: ``count``, else the engine's ``threads`` option, else unchanged."""
        return torch_threads(count or self.options.threads)

    def transcribe(self, encoded: EncodedAudio) -> Transcript:
        if encoded.transcript is None:
            raise CapabilityError("this session holds no transcript; open the audio again")
        return encoded.transcript

    def answer(self, encoded: EncodedAudio, prompt: str, history: Sequence[Turn]) -> EngineReply:
        raise CapabilityError(f"the whisper engine ({self.model_id}) transcribes but cannot answer questions")


@dataclass(frozen=True)
class CallDecoding:
    """What one transcription call decodes with, passed down to each of its batches (not kept on the engine):
    the caller's beam size (None: the engine's :class:`~aero_agent.engines.whisper.search.BeamPolicy`), the
    bias that favours its vocabulary and the prompt that vocabulary adds to every window."""

    beam_size: int | None = None
    bias: Fusion | None = None
    prompt: tuple[int, ...] = ()
