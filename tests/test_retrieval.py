"""BM25 ranking on hand-made segments, where the right order is known."""

from __future__ import annotations

from aero_agent.retrieval import BM25Index, terms
from aero_agent.transcript import Segment


def _segments(*texts: str) -> list[Segment]:
    return [Segment(start=float(i), end=float(i) + 1, text=t) for i, t in enumerate(texts)]


def test_a_rare_term_outranks_a_frequent_one() -> None:
    """Catches idf set to 1 (or dropped): 'budget' is in five segments, 'deadline' in one, both lengths equal,
    so only idf puts the 'deadline' segment first (the tie-break would put the earlier one first)."""
    index = BM25Index(_segments("budget review", "budget plans", "budget talk", "budget notes", "budget again",
                                "deadline friday", "weather today", "lunch menu"))
    hits = index.search("budget deadline", k=8)
    assert hits[0].text == "deadline friday"
    assert [h.rank for h in hits] == list(range(1, 9)) and {h.text for h in hits[1:6]} == {
        "budget review", "budget plans", "budget talk", "budget notes", "budget again"}
    # a search always answers: the passages sharing no term come last, labelled weak
    assert [h.label for h in hits] == ["strong"] * 6 + ["weak"] * 2
    assert hits[0].score > hits[1].score


def test_a_short_segment_outranks_a_long_one_with_the_same_matches() -> None:
    """Catches ``b=0`` (no length normalisation): one mention of 'launch' in a short segment must beat one
    mention among many other words, even when the long segment comes first."""
    index = BM25Index(_segments("launch alpha beta gamma delta epsilon zeta theta iota kappa lambda", "launch soon",
                                "other words here", "more words there"))
    hits = index.search("launch", k=2)
    assert [h.text for h in hits] == ["launch soon", "launch alpha beta gamma delta epsilon zeta theta iota kappa lambda"]
    assert hits[0].score > hits[1].score


def test_repeated_term_saturates() -> None:
    """Catches a raw term-frequency score (no k1 saturation): three 'rose' beat one, but by less than 3x."""
    index = BM25Index(_segments("rose rose rose", "rose", "thorn", "stem"))
    first, second = index.search("rose", k=2)
    assert first.text == "rose rose rose" and first.score < 3 * second.score


def test_terms_drop_stop_words_and_strip_suffixes() -> None:
    """Catches stop words left in the index (every question would match every segment)."""
    assert terms("What is the budget for the meetings?") == ["budget", "meeting"]
