"""What a session and the store accept from a caller: questions, queries and hit counts, checked once for all."""

from __future__ import annotations

from aero_agent.errors import InvalidArgumentError

MAX_QUESTION_CHARS = 8_000
MAX_K = 100


def check_text(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"{what} must be a non-empty string")
    if len(value) > MAX_QUESTION_CHARS:
        raise InvalidArgumentError(f"{what} is {len(value)} characters; the limit is {MAX_QUESTION_CHARS}")
    return value.strip()


def check_k(k: object) -> int:
    """``k`` as a hit count from 1 to :data:`MAX_K`, or :class:`InvalidArgumentError`."""
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise InvalidArgumentError(f"k must be a whole number from 1 to {MAX_K}, got {k!r}")
    return k


def check_query(query: str) -> str:
    """A search query, stripped; empty or over :data:`MAX_QUESTION_CHARS` is :class:`InvalidArgumentError`."""
    return check_text(query, "query")
