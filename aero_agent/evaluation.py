"""Accuracy tooling shared by tests and benchmarks: the speech manifest, joined long recordings, WER."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aero_agent.audio import TARGET_RATE, load_audio


@dataclass
class Clip:
    """One reference clip: id, audio path, reference text, duration."""

    id: str
    path: Path
    text: str
    duration_s: float


def speech_clips(folder: str | Path, min_words: int = 1) -> list[Clip]:
    """Speech clips listed in ``folder/manifest.jsonl`` (non-speech entries are left out)."""
    folder = Path(folder)
    clips = []
    for line in (folder / "manifest.jsonl").read_text("utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("kind") == "speech" and len(row["text"].split()) >= min_words:
            clips.append(Clip(row["id"], folder / row["path"], row["text"], float(row["duration_s"])))
    return clips


@dataclass
class JoinedRecording:
    """Clips joined end to end with short pauses: the samples, the reference, and where each clip sits."""

    samples: np.ndarray
    reference: str
    spans: list[tuple[str, float, float]]

    @property
    def duration_s(self) -> float:
        return len(self.samples) / TARGET_RATE


def join_clips(clips: list[Clip], min_duration_s: float, gap_s: float = 0.6) -> JoinedRecording:
    """Repeat ``clips`` in order (each pass in the same order) until the recording is ``min_duration_s`` long."""
    gap = np.zeros(int(gap_s * TARGET_RATE), dtype=np.float32)
    audio = {c.id: load_audio(c.path).samples for c in clips}
    pieces, texts, spans, t = [], [], [], 0.0
    while t < min_duration_s:
        for clip in clips:
            samples = audio[clip.id]
            pieces += [samples, gap]
            spans.append((clip.id, t, t + len(samples) / TARGET_RATE))
            texts.append(clip.text)
            t += (len(samples) + len(gap)) / TARGET_RATE
            if t >= min_duration_s:
                break
    return JoinedRecording(np.concatenate(pieces), " ".join(texts), spans)


_normalizer = None


def normalize(text: str) -> str:
    """Whisper's English text normaliser (spelling, numbers, punctuation, case)."""
    global _normalizer
    if _normalizer is None:
        from whisper_normalizer.english import EnglishTextNormalizer

        _normalizer = EnglishTextNormalizer()
    return _normalizer(text)


@dataclass
class WerResult:
    """Word error rate with its parts, on normalised text."""

    wer: float
    substitutions: int
    deletions: int
    insertions: int
    reference_words: int


def word_error_rate(references: list[str], hypotheses: list[str]) -> WerResult:
    """Corpus WER over pairs of reference and hypothesis, after Whisper's normaliser."""
    import jiwer

    refs = [normalize(r) for r in references]
    hyps = [normalize(h) for h in hypotheses]
    keep = [(r, h) for r, h in zip(refs, hyps) if r.strip()]
    out = jiwer.process_words([r for r, _ in keep], [h for _, h in keep])
    n = out.substitutions + out.deletions + out.hits
    return WerResult(out.wer, out.substitutions, out.deletions, out.insertions, n)


PODCAST_PARTS = (("music", "music_brahms_hungarian_dance_5", 12.0), ("speech", "fleurs_en_000", None),
                 ("noise", "speech_commands_background_noise", 6.0), ("speech", "librispeech_1089-134686-0001", None),
                 ("music", "music_vibe_ace", 12.0))


def podcast_recording(folder: str | Path) -> JoinedRecording:
    """A podcast-like recording from ``folder``'s clips: 12 s of music, speech, 6 s of noise, speech, 12 s of
    music (a short clip is repeated to its length); ``spans`` lists the speech, ``reference`` its text."""
    folder = Path(folder)
    rows = {r["id"]: r for r in (json.loads(line) for line in (folder / "manifest.jsonl").read_text("utf-8")
                                 .splitlines() if line.strip())}
    pieces, texts, spans, t = [], [], [], 0.0
    for kind, clip_id, seconds in PODCAST_PARTS:
        samples = load_audio(folder / rows[clip_id]["path"]).samples
        if seconds is not None:
            samples = np.resize(samples, int(seconds * TARGET_RATE))  # repeats a clip shorter than that
        else:
            texts.append(rows[clip_id]["text"])
            spans.append((clip_id, t, t + len(samples) / TARGET_RATE))
        pieces.append(samples.astype(np.float32))
        t += len(samples) / TARGET_RATE
    return JoinedRecording(np.concatenate(pieces), " ".join(texts), spans)


@dataclass
class WordTimeScore:
    """Agreement of word times with reference times: matched words, share within tolerance, median error."""

    matched: int
    reference_words: int
    within: float
    median_error_s: float
    errors: list[float] | None = None
    within_count: int = 0


def read_word_times(path: str | Path) -> list[tuple[float, float, str]]:
    """A ``start<TAB>end<TAB>word`` file (as in ``../shared/speech/words``)."""
    rows = []
    for line in Path(path).read_text("utf-8").splitlines():
        if line.strip():
            start, end, word = line.split("\t")[:3]
            rows.append((float(start), float(end), word))
    return rows


def _bare(word: str) -> str:
    return "".join(c for c in word.lower() if c.isalnum() or c == "'")


def score_word_times(reference: list[tuple[float, float, str]], words: list[tuple[float, float, str]],
                     tolerance_s: float = 0.2, skip_first_start: bool = False) -> WordTimeScore:
    """Match ``words`` to ``reference`` by their text (in order, as difflib aligns them) and compare times.

    A matched word counts as within tolerance when both its start and its end lie within ``tolerance_s``;
    the median is over all start and end errors. ``skip_first_start`` leaves the first reference word's
    start out (LJ Speech alignments start every file at 0.000 s)."""
    from difflib import SequenceMatcher

    ref_text, hyp_text = [_bare(w) for *_, w in reference], [_bare(w) for *_, w in words]
    errors, within, matched = [], 0, 0
    for block in SequenceMatcher(None, ref_text, hyp_text, autojunk=False).get_matching_blocks():
        for k in range(block.size):
            i, j = block.a + k, block.b + k
            (rs, re_, _), (hs, he, _) = reference[i], words[j]
            pair = [abs(re_ - he)] if (skip_first_start and i == 0) else [abs(rs - hs), abs(re_ - he)]
            errors += pair
            within += all(e <= tolerance_s for e in pair)
            matched += 1
    return WordTimeScore(matched, len(reference), within / matched if matched else 0.0,
                         float(np.median(errors)) if errors else float("nan"), errors, within)
