"""The base of every payload on the bus, its JSON encoding, and the field types models share.

Every event, KV value and RPC message is a `Message`: it carries `id` (a UUID, also used as
`Nats-Msg-Id` for de-duplication), `ts` (when it was written, UTC, RFC 3339 on the wire) and
`schema` (the model's version). Models are frozen: a message is a fact, not a mutable record.

Compatibility policy, and why models forbid extra fields yet `decode` ignores them:

* Additive changes (a new field with a default) keep the schema version. Writers are strict
  (`extra="forbid"`, so a misspelt keyword is an error, and mypy's pydantic plugin sees the
  exact constructor), but `decode` validates with `extra="ignore"`: a reader built before the
  field existed still reads what a newer writer wrote. Services upgrade one at a time.
* Breaking changes (a field removed, renamed or retyped) bump the version. Each model pins its
  version as a `Literal`, so a reader meeting a version it does not know refuses the payload with
  `InvalidPayload` (a `PermanentError`) instead of guessing.
* Field docstrings become JSON Schema descriptions (`use_attribute_docstrings`), and the
  committed JSON Schema snapshots in `shared/tests/contract/snapshots/` make both kinds of
  change visible in review.
"""

from datetime import UTC, datetime
from typing import Annotated, TypeVar
from uuid import UUID, uuid4

import pydantic
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from deis_shared import errors, processtypes


class InvalidPayload(errors.PermanentError):
    """Bytes that are not a valid message of the expected model: bad JSON, fields or version."""


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC.

    Returns:
        `datetime.now(UTC)`.
    """
    return datetime.now(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware datetime, normalised to UTC; naive datetimes are refused."""

PROCESS_TYPE_PATTERN = f"^{processtypes.PATTERN.pattern}$"
"""Deis's Procfile process-type rule (docs/api.md §2.4), as `deis_shared.processtypes` has it."""

ProcessType = Annotated[
    str, Field(pattern=PROCESS_TYPE_PATTERN, max_length=processtypes.MAX_LENGTH)
]
"""A process type such as `web` or `worker-2`; it becomes part of process and resource names."""

Username = Annotated[str, Field(pattern=r"^[\w.@+-]+$", min_length=1, max_length=150)]
"""A Deis username: letters, digits and `@.+-_`, at most 150 characters (docs/api.md §2.1)."""


class Part(BaseModel):
    """The strictness every wire model shares: the base of nested models, and of `Message`."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        use_attribute_docstrings=True,
    )


class Message(Part):
    """The base of every payload: identity, time of writing and schema version.

    Subclasses pin their version with `schema_version: Literal[N] = Field(N, alias="schema")`.
    The Python name is `schema_version` because `schema` would shadow a `BaseModel` method; on
    the wire it is `schema`.
    """

    # `int` here so that subclasses may pin any `Literal[N]` (mypy refuses Literal[2] over
    # Literal[1]); a contract test checks that every concrete model pins one.
    schema_version: int = Field(1, alias="schema")
    """Version of the model's shape; bumped on breaking changes only."""

    id: UUID = Field(default_factory=uuid4)
    """Unique per message; the JetStream de-duplication id of events."""

    ts: UtcDatetime = Field(default_factory=utc_now)
    """When the message was written."""


M = TypeVar("M", bound=Message)


def encode(message: Message) -> bytes:
    """Serialise a message to its JSON wire form.

    Args:
        message: Any `Message`.

    Returns:
        UTF-8 JSON with wire names (`schema`, camelCase probe fields) and RFC 3339 times.
    """
    return message.model_dump_json(by_alias=True).encode()


def decode(data: bytes, model: type[M]) -> M:
    """Parse and validate a wire payload as `model`, ignoring fields this reader does not know.

    Args:
        data: The JSON bytes of a NATS message or KV value.
        model: The expected `Message` subclass.

    Returns:
        The validated, frozen message.

    Raises:
        InvalidPayload: `data` is not JSON, misses or mistypes a field, or carries a schema
            version `model` does not know.
    """
    try:
        return model.model_validate_json(data, extra="ignore")
    except pydantic.ValidationError as error:
        raise InvalidPayload(
            f"invalid {model.__name__} payload: {error.error_count()} error(s): "
            + "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
                for e in error.errors(include_url=False)
            )
        ) from error
