"""TLS certificates users upload: what Deis shows about them and its checks (API.md §2.8).

`parse_certificate` loads a PEM certificate and its private key, refuses a key that is not the
certificate's, and extracts the facts the Cert object shows. Issuer and subject are rendered the
way OpenSSL's one-line form (and so upstream Deis, through pyOpenSSL) does: `/C=US/ST=CA/CN=x`,
attributes in the certificate's own order, OpenSSL's short names.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import exceptions, x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import types
from cryptography.x509.oid import NameOID

from deis_controller import errors

MAX_NAME_LENGTH = 253
NAME_PATTERN = re.compile(r"[a-z0-9-]+", re.ASCII)
KEY_MISMATCH = "Could not load private key: the key does not match the certificate"

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


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.hex()


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
    return extension.value.get_values_for_type(x509.DNSName)


def _public_der(key: types.PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _load_certificate(pem: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except (ValueError, TypeError, exceptions.UnsupportedAlgorithm) as exc:
        raise errors.FieldErrors.one("certificate", f"Could not load certificate: {exc}") from exc


def _load_private_key(pem: str) -> types.PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, exceptions.UnsupportedAlgorithm) as exc:
        raise errors.FieldErrors.one("key", f"Could not load private key: {exc}") from exc


def parse_certificate(*, certificate: str, key: str) -> CertificateFacts:
    """The facts of a PEM certificate whose PEM private key is `key`.

    Raises:
        FieldErrors: On `certificate` if it does not load (or its extensions are malformed),
            on `key` if the key does not load or is not the certificate's.
    """
    cert = _load_certificate(certificate)
    private_key = _load_private_key(key)
    try:
        san = _dns_names(cert)
        cert_public = cert.public_key()
    except (ValueError, exceptions.UnsupportedAlgorithm) as exc:
        raise errors.FieldErrors.one("certificate", f"Could not load certificate: {exc}") from exc
    if _public_der(private_key.public_key()) != _public_der(cert_public):
        raise errors.FieldErrors.one("key", KEY_MISMATCH)
    return CertificateFacts(
        common_name=_common_name(cert.subject),
        san=san,
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(":").upper(),
        starts=cert.not_valid_before_utc,
        expires=cert.not_valid_after_utc,
        issuer=one_line(cert.issuer),
        subject=one_line(cert.subject),
    )


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
