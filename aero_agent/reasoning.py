"""Answers and extractions from a LangChain chat model reading the transcript."""

from __future__ import annotations

from typing import Any, Sequence

from aero_agent.errors import ExtractionError, ReasonerError
from aero_agent.results import Turn
from aero_agent.schemas import ExtractionSchema
from aero_agent.transcript import Transcript, clock

SYSTEM = (
    "You answer questions about an audio recording using only its timestamped transcript below. "
    "Cite times as [mm:ss]. If the transcript does not say, answer that it does not.\n\nTranscript:\n{transcript}"
)


def timestamped(transcript: Transcript, max_chars: int = 200_000) -> str:
    """The transcript as '[mm:ss] text' lines (h:mm:ss past an hour), cut at ``max_chars``."""
    lines = [f"[{clock(s.start)}] {s.text.strip()}" for s in transcript.segments]
    return "\n".join(lines)[:max_chars]


def _messages(transcript: Transcript, history: Sequence[Turn], prompt: str) -> list[tuple[str, str]]:
    msgs: list[tuple[str, str]] = [("system", SYSTEM.format(transcript=timestamped(transcript)))]
    msgs += [("human" if t.role == "user" else "ai", t.content) for t in history if t.role in ("user", "assistant")]
    msgs.append(("human", prompt))
    return msgs


def reasoner_answer(reasoner: Any, transcript: Transcript, history: Sequence[Turn], question: str) -> str:
    """Ask a LangChain chat model ``question`` over the transcript and conversation so far."""
    reply = reasoner.invoke(_messages(transcript, history, question))
    content = getattr(reply, "content", reply)
    if isinstance(content, list):  # content blocks
        content = "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return str(content).strip()


def _structured_target(schema: ExtractionSchema) -> tuple[Any, bool]:
    """What ``with_structured_output`` accepts: a pydantic class, or an object schema with a title.

    An array schema is wrapped as ``{"items": [...]}`` (function arguments must be objects); the flag says so.
    """
    if schema.model is not None:
        return schema.model, False
    if schema.json_schema.get("type") == "array":
        return {"title": schema.title, "type": "object", "properties": {"items": schema.json_schema},
                "required": ["items"]}, True
    return {"title": schema.title, **schema.json_schema} if not schema.json_schema.get("title") else schema.json_schema, False


def reasoner_extract(reasoner: Any, transcript: Transcript, history: Sequence[Turn],
                     schema: ExtractionSchema, instruction: str) -> Any:
    """Structured output from the chat model, validated against ``schema``."""
    target, wrapped = _structured_target(schema)
    try:
        structured = reasoner.with_structured_output(target)
        result = structured.invoke(_messages(transcript, history, instruction))
    except (NotImplementedError, ValueError, TypeError) as exc:
        raise ExtractionError(f"the reasoner {type(reasoner).__name__} could not give structured output: {exc}") from exc
    if hasattr(result, "model_dump"):
        result = result.model_dump(mode="json")
    if wrapped and isinstance(result, dict):
        result = result.get("items")
    return schema.validate(result)


def load_reasoner(spec: str, **options: Any) -> Any:
    """The LangChain chat model named ``provider:model`` (``ollama:llama3.1``, ``openai:gpt-4o-mini``, ...),
    made by LangChain's ``init_chat_model``; ``options`` go to the model's constructor.

    Raises :class:`~aero_agent.errors.ReasonerError` for a name without a provider or model, an unknown
    provider, or a provider whose package is not installed (the message says what to install).
    """
    provider, _, model = (spec or "").strip().partition(":")
    if not provider.strip() or not model.strip():
        raise ReasonerError(f"reasoner {spec!r} is not of the form provider:model, e.g. ollama:llama3.1")
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as exc:
        raise ReasonerError("a reasoner needs the langchain package: pip install 'aero-agent[reasoner]' and the "
                            f"provider's package (for {provider}: langchain-{provider.replace('_', '-')})") from exc
    try:
        return init_chat_model(model.strip(), model_provider=provider.strip(), **options)
    except ImportError as exc:
        raise ReasonerError(f"reasoner {spec!r}: the {provider} provider's package is not installed ({exc})") from exc
    except ValueError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReasonerError(f"reasoner {spec!r}: {first}") from exc
