"""Schemas for structured extraction: pydantic models or JSON Schema, validated the same way."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Union

import jsonschema
from pydantic import BaseModel, ValidationError

from aero_agent.errors import ExtractionError, InvalidArgumentError

SchemaLike = Union[type[BaseModel], dict[str, Any], str]


@dataclass(frozen=True)
class ExtractionSchema:
    """A caller's schema in both forms: JSON Schema for prompts, a validator for results."""

    json_schema: dict[str, Any]
    model: type[BaseModel] | None = None

    @property
    def title(self) -> str:
        return str(self.json_schema.get("title") or (self.model.__name__ if self.model else "result"))

    def validate(self, data: Any) -> Any:
        """Return ``data`` validated (a model instance's dict for pydantic); raise ExtractionError otherwise."""
        if isinstance(data, BaseModel):
            data = data.model_dump(mode="json")
        if isinstance(data, str):
            data = parse_json_output(data)
        if self.model is not None:
            try:
                return self.model.model_validate(data).model_dump(mode="json")
            except ValidationError as exc:
                raise ExtractionError(f"output does not match {self.title}: {exc.errors()[0]['msg']} "
                                      f"at {'.'.join(map(str, exc.errors()[0]['loc'])) or 'top level'}") from exc
        try:
            jsonschema.validate(data, self.json_schema)
        except jsonschema.ValidationError as exc:
            where = "/".join(map(str, exc.absolute_path)) or "top level"
            raise ExtractionError(f"output does not match the schema at {where}: {exc.message}") from exc
        return data


def as_schema(schema: SchemaLike | None) -> ExtractionSchema:
    """Accept a pydantic model class, a JSON Schema dict or its JSON text; ``None`` means free-form notes."""
    if schema is None:
        return ExtractionSchema({"title": "notes", "type": "object",
                                 "properties": {"items": {"type": "array", "items": {"type": "string"}}},
                                 "required": ["items"]})
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return ExtractionSchema(schema.model_json_schema(), schema)
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as exc:
            raise InvalidArgumentError(f"json_schema is not valid JSON: {exc.msg} at position {exc.pos}") from exc
    if not isinstance(schema, dict):
        raise InvalidArgumentError(f"a schema must be a JSON object, a pydantic model or JSON text, not {type(schema).__name__}")
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise InvalidArgumentError(f"invalid JSON schema: {exc.message}") from exc
    if schema.get("type") not in (None, "object", "array"):
        raise InvalidArgumentError("the JSON schema's top-level type must be object or array")
    return ExtractionSchema(schema)


def parse_json_output(text: str) -> Any:
    """Parse JSON from model output, tolerating code fences and prose around one JSON value."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.strip("`")
        stripped = stripped[stripped.find("\n") + 1:] if "\n" in stripped else stripped
    starts = [i for i in (stripped.find("{"), stripped.find("[")) if i >= 0]
    if not starts:
        raise ExtractionError(f"output holds no JSON: {text[:120]!r}")
    try:
        value, _ = json.JSONDecoder().raw_decode(stripped[min(starts):])
    except json.JSONDecodeError as exc:
        raise ExtractionError(f"output is not valid JSON ({exc.msg}): {text[:120]!r}") from exc
    return value
