"""Who answers a question about a recording, and how: the answer policy (the engine when it can reason, else a
LangChain chat model over the transcript, else the best transcript evidence), structured extraction with one
JSON repair retry, and the chat model itself."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable, Sequence

from aero_agent.errors import ExtractionError, ReasonerError
from aero_agent.render import evidence_lines
from aero_agent.results import AnswerMethod, ExtractionMethod, Turn
from aero_agent.schemas import ExtractionSchema
from aero_agent.transcript import Segment, Transcript, clock

if TYPE_CHECKING:
    from aero_agent.engines.base import EncodedAudio, Engine

SYSTEM = (
    "You answer questions about an audio recording using only its timestamped transcript below. "
    "Cite times as [mm:ss]. If the transcript does not say, answer that it does not.\n\nTranscript:\n{transcript}"
)


SPEAKER_CONTEXT_CHARS = 4_000
DESCRIBE_PROMPT = (
    "Describe the audio beyond its words: background sounds, music, the number of speakers, "
    "and each speaker's tone and emotion, with approximate times."
)
Reply = tuple[str, AnswerMethod, dict[str, Any]]


def answer(engine: Engine, reasoner: Any, question: str, history: Sequence[Turn], evidence: Sequence[Segment], *,
           encoded: Callable[[], EncodedAudio], transcript: Callable[[], Transcript],
           speaker: str | None = None) -> Reply:
    """The answer to ``question``: from the engine when it can reason (it hears the audio), else from the
    ``reasoner`` over the transcript (of ``speaker`` alone, when given), else the ``evidence`` itself. ``encoded``
    and ``transcript`` are asked for only by the way that needs them."""
    if engine.capabilities.answer:
        state = encoded()
        prompt = question if speaker is None else about_speaker(question, speaker, transcript())
        reply = engine.answer(state, prompt, history)
        return reply.text.strip(), "engine", {"prefilled_tokens": reply.prefilled_tokens,
                                              "generated_tokens": reply.generated_tokens, **reply.metadata}
    if reasoner is not None:
        text = reasoner_answer(reasoner, transcript().of_speaker(speaker), history, question)
        return text, "reasoner", {"reasoner": type(reasoner).__name__}
    return evidence_answer(evidence), "transcript-evidence", {
        "engine_can_answer": False,
        "note": f"The {engine.name} engine transcribes but cannot reason; this answer is the best-matching "
                "transcript evidence. Use an answer-capable engine or a reasoner."}


def evidence_answer(evidence: Sequence[Segment]) -> str:
    """The best-matching passages as an answer, for when nothing can reason."""
    if not evidence:
        return "No part of the transcript matches the question."
    return "Best-matching transcript evidence:\n" + evidence_lines(evidence)


def about_speaker(question: str, speaker: str, transcript: Transcript) -> str:
    """The prompt for an answer-capable engine asked about one speaker: the question and that speaker's lines."""
    lines = transcript.of_speaker(speaker).head(SPEAKER_CONTEXT_CHARS, "srt").text
    return f"{question}\nAnswer only about what {speaker} says. {speaker}'s lines:\n{lines}"


def extract(engine: Engine, reasoner: Any, target: ExtractionSchema, instruction: str, history: Sequence[Turn], *,
            encoded: Callable[[], EncodedAudio],
            transcript: Callable[[], Transcript]) -> tuple[Any, ExtractionMethod, dict[str, Any]]:
    """Structured data validated against ``target``: from the engine (asked again once, with the error, when its
    JSON is invalid), else from the ``reasoner``; :class:`CapabilityError` when neither can."""
    if engine.capabilities.answer:
        return engine_extract(engine, encoded(), target, instruction, history)
    if reasoner is not None:
        data = reasoner_extract(reasoner, transcript(), history, target, instruction)
        return data, "reasoner", {"reasoner": type(reasoner).__name__}
    from aero_agent.errors import CapabilityError

    raise CapabilityError(
        f"the {engine.name} engine ({engine.model_id}) only transcribes, so it cannot "
        "extract structured data; use an answer-capable engine (engine 'aero') or give a reasoner "
        "chat model, or use search/transcribe instead")


def engine_extract(engine: Engine, encoded: EncodedAudio, target: ExtractionSchema, instruction: str,
                   history: Sequence[Turn]) -> tuple[Any, ExtractionMethod, dict[str, Any]]:
    """The engine's JSON for ``target``, with one repair retry that shows it its invalid reply and the error."""
    prompt = (f"{instruction}\nReply with one JSON value only, no prose, that validates against this JSON "
              f"Schema:\n{json.dumps(target.json_schema)}")
    reply = engine.answer(encoded, prompt, history)
    try:
        return target.validate(reply.text), "engine", {"attempts": 1}
    except ExtractionError as first:
        repair = (f"{prompt}\nYour previous reply was invalid: {first}. Previous reply:\n{reply.text[:2000]}\n"
                  "Reply again with corrected JSON only.")
        retry = engine.answer(encoded, repair, history)
        try:
            return target.validate(retry.text), "engine", {"attempts": 2}
        except ExtractionError as second:
            raise ExtractionError(f"the {engine.name} engine gave invalid structured output twice: "
                                  f"{second}") from second


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
