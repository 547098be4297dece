"""Domain names an app may claim: Deis's validation and its ACE normal form (docs/api.md §2.7).

A named security boundary. A domain is written verbatim into the shared router's nginx
configuration (`server_name`), so a space, `;`, brace or newline slipping through would let one
app inject directives for every other. `normalize_domain` therefore follows Deis's rules (strip
one trailing dot, IDNA-2008 per label, no all-digit last label, at most 253 characters) and then
re-checks its result with the routing bucket's own `Domain` type, so nothing this function
returns can be refused, or misread, by the router.

The wildcard label `*.` is allowed only in front; the 253-character limit applies to the name
after it, as the routing bucket counts it.
"""

import idna
import pydantic

from deis_controller import errors
from deis_shared.kv import hosts

FIELD = "domain"
MAX_LENGTH = 253
WILDCARD = "*"

_ROUTABLE: pydantic.TypeAdapter[str] = pydantic.TypeAdapter(hosts.Domain)


def _invalid(message: str) -> errors.FieldErrors:
    return errors.FieldErrors.one(FIELD, message)


def _to_ace(label: str, *, value: str) -> str:
    try:
        return idna.encode(label, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise _invalid(
            f"Hostname does not look valid, could not convert to ACE {value}: {exc}"
        ) from exc


def normalize_domain(value: str) -> str:
    """The domain in lowercase ACE form (`xn--…`), if an app may claim it.

    Leading and trailing whitespace is trimmed first, as Deis's serializer field does.

    Raises:
        FieldErrors: On `domain`, with Deis's messages.
    """
    value = value.strip()
    if not value:
        raise _invalid("This field may not be blank.")
    if value.endswith("."):
        value = value[:-1]
    if value == WILDCARD:
        raise _invalid("Hostname can't only be a wildcard")
    labels = value.split(".")
    wildcard = labels[0] == WILDCARD
    if wildcard:
        labels.pop(0)
    if WILDCARD in value[2 if wildcard else 0 :]:
        raise _invalid("Hostname does not look valid.")
    # uts46 can map a character to a dot (`。`), so the labels are split again after encoding.
    ace_labels = ".".join(_to_ace(label, value=value) for label in labels).split(".")
    if ace_labels[-1].isdigit():
        raise _invalid("Hostname does not look valid.")
    ace = ".".join(ace_labels)
    if len(ace) > MAX_LENGTH:
        raise _invalid("Hostname must be 253 characters or less.")
    result = f"{WILDCARD}.{ace}" if wildcard else ace
    try:
        _ROUTABLE.validate_python(result)
    except pydantic.ValidationError as exc:
        raise _invalid("Hostname does not look valid.") from exc
    return result


def to_unicode(ace: str) -> str:
    """The display form of a normalized domain (`xn--bcher-kva.example` → `bücher.example`).

    A label that does not decode is shown as stored.
    """
    shown = []
    for label in ace.split("."):
        try:
            shown.append(label if label == WILDCARD else idna.decode(label))
        except idna.IDNAError:
            shown.append(label)
    return ".".join(shown)
