"""Certificate parsing, the key check and certificate names (API.md §2.8)."""

import datetime
import re
from dataclasses import FrozenInstanceError

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, types
from cryptography.x509.oid import NameOID

from deis_controller import errors
from deis_controller.domain import certificates

UTC = datetime.UTC
START = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def _name(*pairs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in pairs])


def _pem_key(key: types.CertificateIssuerPrivateKeyTypes) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _certificate(
    key: types.CertificateIssuerPrivateKeyTypes,
    *,
    subject: x509.Name,
    san: list[str] | None = None,
    starts: datetime.datetime = START,
    expires: datetime.datetime = START + datetime.timedelta(days=365),
) -> str:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(starts)
        .not_valid_after(expires)
    )
    if san is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in san]), critical=False
        )
    certificate = builder.sign(key, hashes.SHA256())
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


FULL_SUBJECT = _name(
    (NameOID.COUNTRY_NAME, "US"),
    (NameOID.STATE_OR_PROVINCE_NAME, "CA"),
    (NameOID.LOCALITY_NAME, "San Francisco"),
    (NameOID.ORGANIZATION_NAME, "Deis"),
    (NameOID.ORGANIZATIONAL_UNIT_NAME, "Platform"),
    (NameOID.COMMON_NAME, "www.example.com"),
    (NameOID.EMAIL_ADDRESS, "ops@example.com"),
)


def test_facts_of_a_certificate_with_a_san_list(ec_key: ec.EllipticCurvePrivateKey) -> None:
    pem = _certificate(ec_key, subject=FULL_SUBJECT, san=["www.example.com", "example.com"])

    facts = certificates.parse_certificate(certificate=pem, key=_pem_key(ec_key))

    assert facts.common_name == "www.example.com"
    assert facts.san == ["www.example.com", "example.com"]
    assert facts.starts == START
    assert facts.expires == START + datetime.timedelta(days=365)
    assert facts.starts.tzinfo is not None
    expected_line = (
        "/C=US/ST=CA/L=San Francisco/O=Deis/OU=Platform/CN=www.example.com"
        "/emailAddress=ops@example.com"
    )
    assert facts.subject == expected_line
    assert facts.issuer == expected_line
    with pytest.raises(FrozenInstanceError):
        facts.common_name = "other"  # type: ignore[misc]


def test_the_fingerprint_is_sha256_of_der_in_uppercase_pairs(
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    pem = _certificate(ec_key, subject=FULL_SUBJECT)
    der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)

    facts = certificates.parse_certificate(certificate=pem, key=_pem_key(ec_key))

    assert re.fullmatch(r"[0-9A-F]{2}(:[0-9A-F]{2}){31}", facts.fingerprint)
    assert facts.fingerprint.replace(":", "").lower() == digest.finalize().hex()


def test_subject_keeps_the_certificates_own_order(ec_key: ec.EllipticCurvePrivateKey) -> None:
    subject = _name((NameOID.COMMON_NAME, "a.example"), (NameOID.ORGANIZATION_NAME, "Z"))
    pem = _certificate(ec_key, subject=subject)

    facts = certificates.parse_certificate(certificate=pem, key=_pem_key(ec_key))

    assert facts.subject == "/CN=a.example/O=Z"
    assert facts.san == []


def test_a_certificate_without_common_name(ec_key: ec.EllipticCurvePrivateKey) -> None:
    pem = _certificate(ec_key, subject=_name((NameOID.ORGANIZATION_NAME, "Deis")), san=["x.io"])

    facts = certificates.parse_certificate(certificate=pem, key=_pem_key(ec_key))

    assert facts.common_name is None
    assert facts.subject == "/O=Deis"


def test_an_expired_certificate_still_parses(ec_key: ec.EllipticCurvePrivateKey) -> None:
    starts = datetime.datetime(2015, 1, 1, tzinfo=UTC)
    expires = datetime.datetime(2016, 1, 1, tzinfo=UTC)
    pem = _certificate(ec_key, subject=FULL_SUBJECT, starts=starts, expires=expires)

    facts = certificates.parse_certificate(certificate=pem, key=_pem_key(ec_key))

    assert (facts.starts, facts.expires) == (starts, expires)


def test_an_rsa_certificate() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = _certificate(key, subject=_name((NameOID.COMMON_NAME, "rsa.example")))

    facts = certificates.parse_certificate(certificate=pem, key=_pem_key(key))

    assert facts.common_name == "rsa.example"


@pytest.mark.parametrize("bad", ["", "not a certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n"])
def test_a_bad_certificate_is_refused(ec_key: ec.EllipticCurvePrivateKey, bad: str) -> None:
    with pytest.raises(errors.FieldErrors) as caught:
        certificates.parse_certificate(certificate=bad, key=_pem_key(ec_key))

    (message,) = caught.value.fields["certificate"]
    assert message.startswith("Could not load certificate: ")


def test_a_bad_key_is_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    pem = _certificate(ec_key, subject=FULL_SUBJECT)

    with pytest.raises(errors.FieldErrors) as caught:
        certificates.parse_certificate(certificate=pem, key="not a key")

    (message,) = caught.value.fields["key"]
    assert message.startswith("Could not load private key: ")


def test_an_encrypted_key_is_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    pem = _certificate(ec_key, subject=FULL_SUBJECT)
    encrypted = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    ).decode()

    with pytest.raises(errors.FieldErrors) as caught:
        certificates.parse_certificate(certificate=pem, key=encrypted)

    (message,) = caught.value.fields["key"]
    assert message.startswith("Could not load private key: ")


def test_a_key_of_another_certificate_is_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    pem = _certificate(ec_key, subject=FULL_SUBJECT)
    other = ec.generate_private_key(ec.SECP256R1())

    with pytest.raises(errors.FieldErrors) as caught:
        certificates.parse_certificate(certificate=pem, key=_pem_key(other))

    assert caught.value.fields == {"key": [certificates.KEY_MISMATCH]}


@pytest.mark.parametrize("name", ["example", "my-cert-2", "a" * 253, "  padded  "])
def test_valid_certificate_names(name: str) -> None:
    assert certificates.validate_cert_name(name) == name.strip()


@pytest.mark.parametrize(
    "name", ["Example", "my_cert", "a.b", "a b", "ce\nrt", "ümlaut", "a/b", "-\x00"]
)
def test_invalid_certificate_names(name: str) -> None:
    with pytest.raises(errors.FieldErrors) as caught:
        certificates.validate_cert_name(name)

    assert caught.value.fields == {"name": ["Can only contain a-z (lowercase), 0-9 and hyphens"]}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "This field may not be blank."),
        ("a" * 254, "Ensure this field has no more than 253 characters."),
        (5, "Not a valid string."),
    ],
)
def test_certificate_name_field_messages(name: object, message: str) -> None:
    with pytest.raises(errors.FieldErrors) as caught:
        certificates.validate_cert_name(name)

    assert caught.value.fields == {"name": [message]}
