r"""TLS certificates users upload: the checks they must pass and what Deis shows about them.

`parse_certificate` is the boundary for the `certificate` and `key` fields of `POST /v2/certs/`
(docs/api.md §2.8). Every refusal is a `FieldErrors` on the field at fault, with the reason, and the
time taken is bounded by the size limits whatever the input:

- a text longer than its limit, checked before anything is parsed;
- anything but PEM blocks and whitespace (`pem.blocks`): junk before, between or after the
  blocks, non-ASCII, NUL, an unterminated block, a body that is not base64;
- in `certificate`, a block that is not a CERTIFICATE or does not load. The first is the
  server's certificate, the others its chain, in the order nginx serves them;
- a server certificate that has expired, or is not valid yet (`NOT_BEFORE_LEEWAY` allows for a
  clock a little ahead of ours), or whose key is not of an algorithm `privatekeys` accepts. The
  chain's validity is left to clients: chains served to old clients may carry an expired
  cross-signature on purpose;
- in `key`, what `privatekeys.load` refuses (anything but one unencrypted private key block of
  an accepted algorithm and size);
- a key that is not the certificate's: their public halves must be equal and a signature made
  with the key must verify with the certificate's public key (`privatekeys.signs_for`).

A certificate expiring within `EXPIRY_WARNING_WINDOW` is accepted; `expiry_warning` words the
warning shown with it.

Issuer and subject are rendered the way OpenSSL's one-line form (and so upstream Deis, through
pyOpenSSL) does: `/C=US/ST=CA/CN=x`, attributes in the certificate's own order, OpenSSL's short
names. Control characters in names are escaped (`\x00`): PostgreSQL text cannot hold NUL.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import types
from cryptography.x509.oid import NameOID

from deis_controller import errors
from deis_controller.domain import pem, privatekeys
from deis_controller.domain.formats import timestamp

MAX_NAME_LENGTH = 253
NAME_PATTERN = re.compile(r"[a-z0-9-]+", re.ASCII)
CERTIFICATE_ERROR = "Could not load certificate: "
KEY_MISMATCH = f"{privatekeys.KEY_ERROR}the key does not match the certificate"
NOT_BEFORE_LEEWAY = timedelta(minutes=5)
"""A certificate made a moment ago on a machine whose clock is ahead of ours is accepted."""
EXPIRY_WARNING_WINDOW = timedelta(days=30)
"""A certificate expiring within this time is accepted, with a warning."""

# OpenSSL's short names (`OBJ_nid2sn`) for the attributes certificates carry in practice.
_SHORT_NAMES = {
    NameOID.COUNTRY_NAME: "C",
    NameOID.STATE_OR_PROVINCE_NAME: "ST",
    NameOID.LOCALITY_NAME: "L",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.COMMON_NAME: "CN",
    NameOID.EMAIL_ADDRESS: "emailAddress",
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.SURNAME: "SN",
    NameOID.GIVEN_NAME: "GN",
    NameOID.TITLE: "title",
    NameOID.INITIALS: "initials",
    NameOID.PSEUDONYM: "pseudonym",
    NameOID.GENERATION_QUALIFIER: "generationQualifier",
    NameOID.DN_QUALIFIER: "dnQualifier",
    NameOID.DOMAIN_COMPONENT: "DC",
    NameOID.USER_ID: "UID",
    NameOID.STREET_ADDRESS: "street",
    NameOID.POSTAL_CODE: "postalCode",
    NameOID.BUSINESS_CATEGORY: "businessCategory",
    NameOID.JURISDICTION_COUNTRY_NAME: "jurisdictionC",
    NameOID.JURISDICTION_STATE_OR_PROVINCE_NAME: "jurisdictionST",
    NameOID.JURISDICTION_LOCALITY_NAME: "jurisdictionL",
    NameOID.ORGANIZATION_IDENTIFIER: "organizationIdentifier",
    NameOID.UNSTRUCTURED_NAME: "unstructuredName",
}


@dataclass(frozen=True)
class CertificateFacts:
    """What the Cert object shows about an uploaded certificate."""

    common_name: str | None
    san: list[str]
    fingerprint: str
    """SHA-256 of the DER encoding, uppercase hex pairs joined by `:`."""
    starts: datetime
    expires: datetime
    issuer: str
    subject: str


def _escaped(char: str) -> str:
    category = unicodedata.category(char)
    if category == "Cc":
        return f"\\x{ord(char):02X}"
    return f"\\u{ord(char):04X}" if category == "Cs" else char


def _printable(value: str) -> str:
    r"""`value` with control characters and lone surrogates escaped, as `\x00` or `\uD800`."""
    return value if value.isprintable() else "".join(_escaped(char) for char in value)


def _text(value: str | bytes) -> str:
    return _printable(value) if isinstance(value, str) else value.hex()


def one_line(name: x509.Name) -> str:
    """`name` in OpenSSL's one-line form, such as `/C=US/ST=CA/O=Deis/CN=example.com`."""
    parts = [
        f"/{_SHORT_NAMES.get(attribute.oid, attribute.oid.dotted_string)}={_text(attribute.value)}"
        for rdn in name.rdns
        for attribute in rdn
    ]
    return "".join(parts)


def _common_name(name: x509.Name) -> str | None:
    found = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return _text(found[0].value) if found else None


def _dns_names(certificate: x509.Certificate) -> list[str]:
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [_printable(name) for name in extension.value.get_values_for_type(x509.DNSName)]


def _public_der(key: types.PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass(frozen=True)
class _Leaf:
    """The server certificate of a chain: its public key and what the Cert object shows."""

    public_key: types.CertificatePublicKeyTypes
    facts: CertificateFacts


def _certificate_error(reason: str) -> errors.FieldErrors:
    return errors.FieldErrors.one("certificate", f"{CERTIFICATE_ERROR}{reason}")


def _load_chain(text: str, *, max_length: int) -> list[x509.Certificate]:
    if len(text) > max_length:
        raise errors.FieldErrors.one(
            "certificate", f"Ensure this field has no more than {max_length} characters."
        )
    try:
        found = pem.blocks(text)
    except pem.PemError as exc:
        raise _certificate_error(str(exc)) from exc
    for block in found:
        if block.label != "CERTIFICATE":
            raise _certificate_error(f"a {block.label} block where only CERTIFICATE blocks may be")
    try:
        return [x509.load_pem_x509_certificate(block.text.encode()) for block in found]
    except privatekeys.LOAD_ERRORS as exc:
        raise _certificate_error(str(exc)) from exc


def _leaf(text: str, *, max_length: int, now: datetime) -> _Leaf:
    """The first certificate of the chain in `text`, checked.

    Raises:
        FieldErrors: On `certificate`.
    """
    certificate = _load_chain(text, max_length=max_length)[0]
    try:
        if certificate.public_key_algorithm_oid not in privatekeys.ALGORITHMS:
            raise _certificate_error("its public key is not RSA, EC, Ed25519 or Ed448")
        public_key = certificate.public_key()
        facts = CertificateFacts(
            common_name=_common_name(certificate.subject),
            san=_dns_names(certificate),
            fingerprint=certificate.fingerprint(hashes.SHA256()).hex(":").upper(),
            starts=certificate.not_valid_before_utc,
            expires=certificate.not_valid_after_utc,
            issuer=one_line(certificate.issuer),
            subject=one_line(certificate.subject),
        )
    except privatekeys.LOAD_ERRORS as exc:
        raise _certificate_error(str(exc)) from exc
    if now > facts.expires:
        raise errors.FieldErrors.one(
            "certificate",
            f"Certificate has expired: it was valid until {timestamp(facts.expires)}",
        )
    if facts.starts > now + NOT_BEFORE_LEEWAY:
        raise errors.FieldErrors.one(
            "certificate",
            f"Certificate is not valid yet: it is valid from {timestamp(facts.starts)}",
        )
    return _Leaf(public_key=public_key, facts=facts)


def parse_certificate(
    *,
    certificate: str,
    key: str,
    now: datetime,
    max_certificate_length: int,
    max_key_length: int,
) -> CertificateFacts:
    """The facts of a PEM certificate (and its chain) whose PEM private key is `key`.

    Both fields are checked, and the problems of both are raised at once, as DRF does.

    Raises:
        FieldErrors: On `certificate`, `key` or both; the rules are in the module docstring.
    """
    problems: dict[str, list[str]] = {}
    leaf = private_key = None
    try:
        leaf = _leaf(certificate, max_length=max_certificate_length, now=now)
    except errors.FieldErrors as exc:
        problems.update(exc.fields)
    try:
        private_key = privatekeys.load(key, max_length=max_key_length)
    except errors.FieldErrors as exc:
        problems.update(exc.fields)
    if problems or leaf is None or private_key is None:
        raise errors.FieldErrors(problems)
    same_public_key = _public_der(private_key.public_key()) == _public_der(leaf.public_key)
    if not same_public_key or not privatekeys.signs_for(private_key, leaf.public_key):
        raise errors.FieldErrors.one("key", KEY_MISMATCH)
    return leaf.facts


def expiry_warning(expires: datetime, *, now: datetime) -> str | None:
    """What to tell the owner of a certificate that expires within `EXPIRY_WARNING_WINDOW`."""
    left = expires - now
    if left > EXPIRY_WARNING_WINDOW:
        return None
    if left <= timedelta(0):
        return f"Certificate expired at {timestamp(expires)}"
    days = left.days
    when = f"in {days} day{'s' if days != 1 else ''}" if days else "within a day"
    return f"Certificate expires {when}, at {timestamp(expires)}"


def validate_cert_name(name: Any) -> str:
    """The name, if a certificate may have it; whitespace around it is trimmed, as DRF does.

    Raises:
        FieldErrors: On `name`, with Deis's messages.
    """
    if not isinstance(name, str):
        raise errors.FieldErrors.one("name", "Not a valid string.")
    stripped = name.strip()
    if not stripped:
        raise errors.FieldErrors.one("name", "This field may not be blank.")
    if len(stripped) > MAX_NAME_LENGTH:
        raise errors.FieldErrors.one(
            "name", f"Ensure this field has no more than {MAX_NAME_LENGTH} characters."
        )
    if NAME_PATTERN.fullmatch(stripped) is None:
        raise errors.FieldErrors.one("name", "Can only contain a-z (lowercase), 0-9 and hyphens")
    return stripped
