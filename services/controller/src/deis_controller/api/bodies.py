"""Request bodies: JSON, form or multipart, validated into models with Deis's error shapes.

Deis (DRF) parses all three; the SDK sends JSON, upstream's tests send forms whose nested
fields are JSON-encoded strings (docs/api.md §1.4). FastAPI's own body handling would answer 422
with its own error format, so bodies are read here and validated with pydantic, and errors
become `{"<field>": ["msg"]}`. The model is still published in the OpenAPI document through
`openapi_body`.
"""

import json
from typing import Any, TypeVar

import pydantic
from fastapi import Request

from deis_controller import errors
from deis_controller.domain import jsondata

Model = TypeVar("Model", bound=pydantic.BaseModel)

DOCUMENTED: dict[str, type[pydantic.BaseModel]] = {}
"""Every body model named in the OpenAPI document, merged into its components."""

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

NUL_REFUSED = "JSON parse error - NUL characters are not allowed"


async def read(request: Request) -> Any:
    """The body as JSON-like data: an object for forms, whatever JSON holds otherwise.

    Raises:
        BadRequest: The body is not valid JSON, or nests more than `jsondata.MAX_DEPTH` deep.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in FORM_TYPES:
        form = await request.form()
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        if any("\x00" in key or "\x00" in value for key, value in fields.items()):
            raise errors.BadRequest(NUL_REFUSED)
        return fields
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = jsondata.loads(raw)
        if b"\\u" in raw:
            # Escapes may encode lone surrogates, which no database or UTF-8 output takes,
            # or NUL, which PostgreSQL text cannot hold.
            if b"\\u0000" in raw:
                raise errors.BadRequest(NUL_REFUSED)
            json.dumps(data, ensure_ascii=False).encode()
    except (ValueError, UnicodeError) as exc:
        raise errors.BadRequest(f"JSON parse error - {exc}") from exc
    return data


async def read_object(request: Request) -> dict[str, Any]:
    """The body, which must be an object.

    Raises:
        BadRequest: Not valid JSON.
        FieldErrors: Valid JSON, but not an object.
    """
    data = await read(request)
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise errors.FieldErrors.one(
            "non_field_errors", f"Invalid data. Expected a dictionary, but got {kind}."
        )
    return data


def message(error: Any) -> str:
    """DRF's wording for the commonest pydantic errors."""
    kind = error.get("type", "")
    if kind == "missing":
        return "This field is required."
    if kind in ("string_too_short",) and error.get("ctx", {}).get("min_length") == 1:
        return "This field may not be blank."
    if kind == "string_too_long":
        return f"Ensure this field has no more than {error['ctx']['max_length']} characters."
    if kind in ("bool_type", "bool_parsing"):
        return "Must be a valid boolean."
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "A valid integer is required."
    if kind == "string_type":
        return "Not a valid string."
    msg = str(error.get("msg", "Invalid value."))
    return msg.removeprefix("Value error, ")


def validate(model: type[Model], data: Any) -> Model:
    """Validate `data` into `model`.

    Raises:
        FieldErrors: With one entry per failing top-level field.
    """
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        fields: dict[str, list[str]] = {}
        for error in exc.errors():
            location = error.get("loc", ())
            field = str(location[0]) if location else "non_field_errors"
            fields.setdefault(field, []).append(message(error))
        raise errors.FieldErrors(fields) from exc


async def parse(request: Request, model: type[Model]) -> Model:
    """Read and validate the request body into `model`."""
    return validate(model, await read_object(request))


def openapi_body(model: type[pydantic.BaseModel], *, required: bool = True) -> dict[str, Any]:
    """`openapi_extra` documenting `model` as the JSON request body."""
    DOCUMENTED[model.__name__] = model
    return {
        "requestBody": {
            "required": required,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }
