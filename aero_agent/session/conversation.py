"""The conversation part of a session: questions, extractions and descriptions, each recorded as a turn."""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from aero_agent import reasoning
from aero_agent.engines.base import EncodedAudio, Engine
from aero_agent.errors import CapabilityError
from aero_agent.results import Answer, Extraction, SearchHit, SessionInfo, Turn, utc_now
from aero_agent.retrieval import evidence_segments
from aero_agent.schemas import SchemaLike, as_schema
from aero_agent.session.checks import check_text
from aero_agent.transcript import Segment, Transcript

EVIDENCE_HITS = 3


class Conversation:
    """The turns of :class:`~aero_agent.session.AudioSession` (which provides the attributes below)."""

    info: SessionInfo
    engine: Engine
    encoded: EncodedAudio | None
    history: list[Turn]
    reasoner: Any
    _lock: threading.RLock

    if TYPE_CHECKING:
        def transcribe(self, start_s: float | None = None, end_s: float | None = None) -> Transcript: ...
        def search(self, query: str, k: int = 5, *, speaker: str | None = None) -> list[SearchHit]: ...
        def _require_ready(self, what: str) -> EncodedAudio: ...
        def _save(self, **what: Any) -> None: ...

    def _turn_number(self) -> int:
        return sum(1 for t in self.history if t.role == "user") + 1

    def _record(self, kind: str, prompt: str, reply: str) -> None:
        self.history.append(Turn(role="user", content=prompt, kind=kind))
        self.history.append(Turn(role="assistant", content=reply, kind=kind))
        self.info.turns = self._turn_number() - 1
        self.info.updated = utc_now()
        self._save(history=True, volatile=True, vectors=True)

    def ask(self, question: str, *, speaker: str | None = None) -> Answer:
        """Answer a question about the audio, using the engine, the reasoner, or transcript evidence (the
        passages ``search`` ranks best); with ``speaker``, only about what that speaker says."""
        question = check_text(question, "question")
        with self._lock:
            if self.info.status == "failed":
                self._require_ready("answering")
            turn = self._turn_number()
            evidence = self._evidence(question, speaker)
            text, method, meta = reasoning.answer(
                self.engine, self.reasoner, question, self.history, evidence, speaker=speaker,
                encoded=lambda: self._require_ready("answering"), transcript=self.transcribe)
            if self.info.status == "encoding":
                meta["partial"] = True
                meta["note_partial"] = f"encoding is {self.info.progress:.0%} done; only that part was searched"
            if speaker is not None:
                meta["speaker"] = speaker
            if self.info.status == "live":
                meta["partial"] = True
                meta["note_partial"] = (f"the session is live ({self.info.duration_s:.0f} s so far); only the "
                                        "final text was searched")
            self._record("ask", question, text)
            # the notes stay in metadata too, for callers of the earlier, untyped form
            notes = [str(meta[key]) for key in ("note", "note_partial") if meta.get(key)]
            return Answer(text=text, evidence=evidence, turn=turn, method=method, complete=not meta.get("partial"),
                          notes=notes, metadata=meta)

    def _evidence(self, question: str, speaker: str | None = None) -> list[Segment]:
        has_transcript = self.encoded is not None and self.encoded.transcript is not None
        if speaker is None and not has_transcript and self.info.status not in ("encoding", "live"):
            return []
        return evidence_segments(self.search(question, EVIDENCE_HITS, speaker=speaker))

    def extract(self, schema: SchemaLike | None = None,
                instruction: str = "Extract the requested information from the recording.") -> Extraction:
        """Structured data validated against ``schema`` (a pydantic model or a JSON Schema)."""
        instruction = check_text(instruction, "instruction")
        target = as_schema(schema)
        with self._lock:
            turn = self._turn_number()
            data, method, meta = reasoning.extract(self.engine, self.reasoner, target, instruction, self.history,
                                                   encoded=lambda: self._require_ready("extraction"),
                                                   transcript=self.transcribe)
            self._record("extract", instruction, json.dumps(data, ensure_ascii=False))
            return Extraction(data=data, method=method, turn=turn, metadata=meta)

    def describe(self) -> Answer:
        """Sounds, music and speaker emotion, from an engine that hears more than words."""
        with self._lock:
            if not self.engine.capabilities.describe:
                raise CapabilityError(f"the {self.engine.name} engine cannot describe sounds; use engine 'aero'")
            encoded = self._require_ready("description")
            turn = self._turn_number()
            reply = self.engine.answer(encoded, reasoning.DESCRIBE_PROMPT, self.history)
            self._record("describe", reasoning.DESCRIBE_PROMPT, reply.text.strip())
            return Answer(text=reply.text.strip(), turn=turn, method="engine",
                          metadata={"prefilled_tokens": reply.prefilled_tokens})
