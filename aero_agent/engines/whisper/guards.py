"""Whisper's own checks on a decoded window, the second line after voice activity: a window that reads as
silence, that the decoder was unsure of, or whose text repeats itself is a hallucination and is dropped."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

from aero_agent.engines.whisper.decoding import Decoded
from aero_agent.transcript import Segment


def compression_ratio(text: str) -> float:
    """Length of the text over its zlib-compressed length: loops of repeated phrases compress well."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


# What Whisper writes for sound it was trained to caption rather than transcribe: "Music", "[Applause]",
# "(laughs)", "♪", and hums ("Mmm.", "Hmm..."), which it writes on whale song and music (the tuning half's
# podcast join, inside a speech window); Whisper's English normaliser drops them from references too. A window
# that says only this heard no speech. ("Mm-hmm", a listener's yes, is kept.)
_CAPTION = re.compile(r"^[\W_]*(?:(?:music|applause|laughter|laughs|silence|noise|inaudible|blank_audio|h?mm+|hm+)"
                      r"(?![\w-])[\W_]*)*$|^[\s♪♫.,!]*$", re.IGNORECASE)


def is_caption(text: str) -> bool:
    """Whether ``text`` is only a non-speech caption (or only musical notes and punctuation)."""
    return bool(_CAPTION.match(text.strip()))


@dataclass(frozen=True)
class GuardOptions:
    """Thresholds as openai-whisper and faster-whisper use them (their defaults)."""

    no_speech_threshold: float = 0.6
    logprob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4
    doubtful_no_speech_threshold: float = 0.3
    doubtful_logprob_threshold: float = -0.8
    """Stricter bounds for sound the detector did not take for speech. Measured on ../shared/speech: every
    speech clip decodes at -0.74 or better and no-speech 0.29 or less; the hallucinations on its non-speech
    clips at -0.76 to -1.8 and 0.36 to 0.95 (a 'Mmm...' on whale song at 0.36 and -0.89)."""

    min_word_probability: float = 0.15
    """A segment none of whose words the decoder gave at least this probability is dropped (openai-whisper
    counts a word under 0.15 as an anomaly when it looks for hallucinations). Measured: tiny.en wrote "you" at
    0.03 on the music after the speech of tests/test_vad.py's podcast join, inside a speech window."""

    def keeps_segment(self, word_probabilities: list[float]) -> bool:
        """Whether a segment with these word probabilities is kept (without words: kept)."""
        return not word_probabilities or max(word_probabilities) >= self.min_word_probability

    def accepts(self, decoded: Decoded, text: str, doubtful: bool) -> bool:
        """Whether to keep a window's text.

        A window of detected speech is dropped, as Whisper drops it, when it both reads as silence and was
        decoded with low confidence, or when it loops. A doubtful window (sound the detector did not take for
        speech) must pass each test on its own."""
        if is_caption(text) or compression_ratio(text) > self.compression_ratio_threshold:
            return False
        if doubtful:
            return (decoded.no_speech_prob <= self.doubtful_no_speech_threshold
                    and decoded.avg_logprob >= self.doubtful_logprob_threshold)
        return not (decoded.no_speech_prob > self.no_speech_threshold and decoded.avg_logprob < self.logprob_threshold)


def _bare(text: str) -> list[str]:
    """Words lower-cased without punctuation, for comparing what two segments say."""
    return [w for w in (re.sub(r"[^\w']+", "", part.lower()) for part in text.split()) if w]


def _overlap(before: list[str], after: list[str]) -> int:
    """The most words that end ``before`` and start ``after`` alike."""
    return max((n for n in range(1, min(len(before), len(after)) + 1) if before[-n:] == after[:n]), default=0)


def drop_repeats(segments: list[Segment], min_words: int = 3, loop_gap_s: float = 2.0,
                 join_gap_s: float = 0.5) -> list[Segment]:
    """Segments in time order without what was written twice.

    * A segment of ``min_words`` or more words that repeats the end of the one before it word for word, starting
      within ``loop_gap_s`` of its end: Whisper looping (seen on music after speech: a 21-word sentence written
      again over the music, 2026-12, checking half's podcast join).
    * Words opening a segment that repeat the previous segment's last words, where a join lies between them:
      two or more words starting within ``join_gap_s`` of its end, or one word whose time overlaps that of the
      word it repeats (the same sound decoded by two windows). The repeated words are cut from the later one.
    """
    out: list[Segment] = []
    for seg in sorted(segments, key=lambda s: s.start):
        prev = out[-1] if out else None
        if prev is None:
            out.append(seg)
            continue
        before, after = _bare(prev.text), _bare(seg.text)
        gap = seg.start - prev.end
        if len(after) >= min_words and before[-len(after):] == after and gap <= loop_gap_s:
            continue
        n = _overlap(before, after)
        same_sound = (n == 1 and bool(seg.words) and bool(prev.words)
                      and seg.words[0].start < prev.words[-1].end)  # type: ignore[index]
        if (n >= 2 and gap <= join_gap_s) or same_sound:
            seg = _without_first(seg, n)
            if not _bare(seg.text):
                continue
        out.append(seg)
    return out


def _without_first(seg: Segment, n: int) -> Segment:
    """The segment without its first ``n`` words (by word times when it has them)."""
    if seg.words and len(seg.words) > n:
        words = seg.words[n:]
        return seg.model_copy(update={"words": words, "start": words[0].start,
                                      "text": "".join(w.word for w in words).strip()})
    parts = seg.text.split()
    return seg.model_copy(update={"text": " ".join(parts[n:]), "words": [] if seg.words else seg.words})
