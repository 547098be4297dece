"""Certificate checks (validity, key match, PEM framing, sizes), the facts shown, names."""

import datetime
import re
from dataclasses import FrozenInstanceError

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa, types
from cryptography.x509.oid import NameOID
from hypothesis import given, settings, strategies as st

from deis_controller import errors
from deis_controller.domain import certificates

UTC = datetime.UTC
START = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
YEAR = datetime.timedelta(days=365)
NOW = START + datetime.timedelta(days=100)
MAX_CERTIFICATE = 64 << 10
MAX_KEY = 16 << 10


def parse(
    certificate: str,
    key: str,
    *,
    now: datetime.datetime = NOW,
    max_certificate_length: int = MAX_CERTIFICATE,
    max_key_length: int = MAX_KEY,
) -> certificates.CertificateFacts:
    return certificates.parse_certificate(
        certificate=certificate,
        key=key,
        now=now,
        max_certificate_length=max_certificate_length,
        max_key_length=max_key_length,
    )


def refusal(certificate: str, key: str, **options) -> dict[str, list[str]]:
    with pytest.raises(errors.FieldErrors) as caught:
        parse(certificate, key, **options)
    return caught.value.fields


def _name(*pairs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in pairs])


def _pem_key(key: types.PrivateKeyTypes) -> str:
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
    expires: datetime.datetime = START + YEAR,
    issuer_key: types.CertificateIssuerPrivateKeyTypes | None = None,
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
    signer = issuer_key or key
    algorithm = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    certificate = builder.sign(signer, algorithm)
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


FULL_SUBJECT = _name(
    (NameOID.COUNTRY_NAME, "US"),
    (NameOID.STATE_OR_PROVINCE_NAME, "CA"),
    (NameOID.LOCALITY_NAME, "San Francisco"),
    (NameOID.ORGANIZATION_NAME, "Deis"),
    (NameOID.ORGANIZATIONAL_UNIT_NAME, "Platform"),
    (NameOID.COMMON_NAME, "www.example.com"),
    (NameOID.EMAIL_ADDRESS, "ops@example.com"),
)


@pytest.fixture(scope="module")
def pair(ec_key: ec.EllipticCurvePrivateKey) -> tuple[str, str]:
    """A valid certificate and its key, as PEM."""
    return _certificate(ec_key, subject=FULL_SUBJECT), _pem_key(ec_key)


# The facts shown


def test_facts_of_a_certificate_with_a_san_list(ec_key: ec.EllipticCurvePrivateKey) -> None:
    pem = _certificate(ec_key, subject=FULL_SUBJECT, san=["www.example.com", "example.com"])

    facts = parse(pem, _pem_key(ec_key))

    assert facts.common_name == "www.example.com"
    assert facts.san == ["www.example.com", "example.com"]
    assert facts.starts == START
    assert facts.expires == START + YEAR
    assert facts.starts.tzinfo is not None
    expected_line = (
        "/C=US/ST=CA/L=San Francisco/O=Deis/OU=Platform/CN=www.example.com"
        "/emailAddress=ops@example.com"
    )
    assert facts.subject == expected_line
    assert facts.issuer == expected_line
    with pytest.raises(FrozenInstanceError):
        facts.common_name = "other"  # type: ignore[misc]


def test_the_fingerprint_is_sha256_of_der_in_uppercase_pairs(pair: tuple[str, str]) -> None:
    pem, key = pair
    der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)

    facts = parse(pem, key)

    assert re.fullmatch(r"[0-9A-F]{2}(:[0-9A-F]{2}){31}", facts.fingerprint)
    assert facts.fingerprint.replace(":", "").lower() == digest.finalize().hex()


def test_subject_keeps_the_certificates_own_order(ec_key: ec.EllipticCurvePrivateKey) -> None:
    subject = _name((NameOID.COMMON_NAME, "a.example"), (NameOID.ORGANIZATION_NAME, "Z"))

    facts = parse(_certificate(ec_key, subject=subject), _pem_key(ec_key))

    assert facts.subject == "/CN=a.example/O=Z"
    assert facts.san == []


def test_a_certificate_without_common_name(ec_key: ec.EllipticCurvePrivateKey) -> None:
    subject = _name((NameOID.ORGANIZATION_NAME, "Deis"))

    facts = parse(_certificate(ec_key, subject=subject, san=["x.io"]), _pem_key(ec_key))

    assert facts.common_name is None
    assert facts.subject == "/O=Deis"


def test_control_characters_in_names_are_escaped(ec_key: ec.EllipticCurvePrivateKey) -> None:
    """PostgreSQL text and jsonb cannot hold NUL: shown escaped, as OpenSSL's one-line form."""
    subject = _name((NameOID.COMMON_NAME, "evil\x00.example\x1b"))
    pem = _certificate(ec_key, subject=subject, san=["a\x00.example", "b.example"])

    facts = parse(pem, _pem_key(ec_key))

    assert facts.common_name == "evil\\x00.example\\x1B"
    assert facts.subject == facts.issuer == "/CN=evil\\x00.example\\x1B"
    assert facts.san == ["a\\x00.example", "b.example"]


def test_key_types_accepted(rsa_key: rsa.RSAPrivateKey) -> None:
    ed_key = ed25519.Ed25519PrivateKey.generate()
    for key in (rsa_key, ed_key, ec.generate_private_key(ec.SECP384R1())):
        subject = _name((NameOID.COMMON_NAME, "keys.example"))

        facts = parse(_certificate(key, subject=subject), _pem_key(key))

        assert facts.common_name == "keys.example"


def test_a_traditional_rsa_key_and_an_ec_key_with_its_parameters(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    """What `openssl genrsa` and `openssl ecparam -genkey` write is accepted as it is."""
    traditional = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    assert traditional.startswith("-----BEGIN RSA PRIVATE KEY-----")
    sec1 = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    parameters = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"

    parse(_certificate(rsa_key, subject=FULL_SUBJECT), traditional)
    parse(_certificate(ec_key, subject=FULL_SUBJECT), parameters + sec1)


# Validity dates


def test_an_expired_certificate_is_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    starts = datetime.datetime(2015, 1, 1, tzinfo=UTC)
    expires = datetime.datetime(2016, 1, 1, tzinfo=UTC)
    pem = _certificate(ec_key, subject=FULL_SUBJECT, starts=starts, expires=expires)

    fields = refusal(pem, _pem_key(ec_key))

    assert fields == {
        "certificate": ["Certificate has expired: it was valid until 2016-01-01T00:00:00Z"]
    }


def test_expiry_is_exact_to_the_second(pair: tuple[str, str]) -> None:
    pem, key = pair
    expires = START + YEAR

    assert parse(pem, key, now=expires).expires == expires
    assert "certificate" in refusal(pem, key, now=expires + datetime.timedelta(seconds=1))


def test_a_certificate_not_valid_yet_is_refused(pair: tuple[str, str]) -> None:
    pem, key = pair

    fields = refusal(pem, key, now=START - datetime.timedelta(days=1))

    assert fields == {
        "certificate": ["Certificate is not valid yet: it is valid from 2024-01-02T03:04:05Z"]
    }


def test_a_clock_a_little_ahead_is_allowed_for(pair: tuple[str, str]) -> None:
    pem, key = pair
    leeway = certificates.NOT_BEFORE_LEEWAY

    assert parse(pem, key, now=START - leeway).starts == START
    assert "certificate" in refusal(pem, key, now=START - leeway - datetime.timedelta(seconds=1))


def test_a_certificate_expiring_soon_is_accepted_with_its_expiry(pair: tuple[str, str]) -> None:
    pem, key = pair
    now = START + YEAR - datetime.timedelta(days=3)

    facts = parse(pem, key, now=now)

    assert facts.expires == START + YEAR
    warning = certificates.expiry_warning(facts.expires, now=now)
    assert warning == "Certificate expires in 3 days, at 2025-01-01T03:04:05Z"


@pytest.mark.parametrize(
    ("left", "warning"),
    [
        (datetime.timedelta(days=31), None),
        (datetime.timedelta(days=30, seconds=1), None),
        (datetime.timedelta(days=30), "Certificate expires in 30 days, at 2024-03-01T00:00:00Z"),
        (
            datetime.timedelta(days=1, hours=2),
            "Certificate expires in 1 day, at 2024-03-01T00:00:00Z",
        ),
        (datetime.timedelta(hours=5), "Certificate expires within a day, at 2024-03-01T00:00:00Z"),
        (datetime.timedelta(0), "Certificate expired at 2024-03-01T00:00:00Z"),
        (-YEAR, "Certificate expired at 2024-03-01T00:00:00Z"),
    ],
)
def test_expiry_warning(left: datetime.timedelta, warning: str | None) -> None:
    expires = datetime.datetime(2024, 3, 1, tzinfo=UTC)

    assert certificates.expiry_warning(expires, now=expires - left) == warning


def test_only_the_server_certificate_must_be_valid_now(ec_key: ec.EllipticCurvePrivateKey) -> None:
    """An expired certificate further up the chain is the client's business (cross-signs)."""
    leaf = _certificate(ec_key, subject=FULL_SUBJECT)
    old_root = _certificate(
        ec.generate_private_key(ec.SECP256R1()),
        subject=_name((NameOID.COMMON_NAME, "Old Root")),
        starts=datetime.datetime(2000, 1, 1, tzinfo=UTC),
        expires=datetime.datetime(2001, 1, 1, tzinfo=UTC),
    )

    facts = parse(f"{leaf}\n{old_root}", _pem_key(ec_key))

    assert facts.common_name == "www.example.com"
    assert "certificate" in refusal(f"{old_root}{leaf}", _pem_key(ec_key))


# The key must be the certificate's


def test_a_key_of_another_certificate_is_refused(pair: tuple[str, str]) -> None:
    pem, _ = pair
    other = ec.generate_private_key(ec.SECP256R1())

    assert refusal(pem, _pem_key(other)) == {"key": [certificates.KEY_MISMATCH]}


def test_a_key_of_another_type_is_refused(pair: tuple[str, str], rsa_key: rsa.RSAPrivateKey):
    pem, _ = pair

    assert refusal(pem, _pem_key(rsa_key)) == {"key": [certificates.KEY_MISMATCH]}


def test_a_key_with_the_right_public_half_but_a_wrong_secret_is_refused(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    """Equal public halves are not enough: the key must sign for the certificate."""
    pem = _certificate(rsa_key, subject=FULL_SUBJECT)
    numbers = rsa_key.private_numbers()
    forged = rsa.RSAPrivateNumbers(
        p=numbers.p,
        q=numbers.q,
        d=numbers.d + 2,
        dmp1=(numbers.dmp1 + 2) % numbers.p,
        dmq1=(numbers.dmq1 + 2) % numbers.q,
        iqmp=numbers.iqmp,
        public_numbers=numbers.public_numbers,
    ).private_key(unsafe_skip_rsa_key_validation=True)

    assert refusal(pem, _pem_key(forged)) == {"key": [certificates.KEY_MISMATCH]}


def test_problems_of_both_fields_are_answered_at_once() -> None:
    fields = refusal("junk", "junk")

    assert set(fields) == {"certificate", "key"}
    assert fields["certificate"][0].startswith("Could not load certificate: ")
    assert fields["key"][0].startswith("Could not load private key: ")


# PEM framing, content and sizes


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda pem: "", "no PEM block found"),
        (lambda pem: "not a certificate", "no PEM block found"),
        (lambda pem: "-----BEGIN CERTIFICATE-----\nAAAA\n", "has no END line"),
        (lambda pem: f"junk\n{pem}", "unexpected text before the first PEM block"),
        (lambda pem: f"{pem}junk\n{pem}", "unexpected text between PEM blocks"),
        (lambda pem: pem + "A" * 60_000, "unexpected text after the last PEM block"),
        (lambda pem: pem + "\x00", "unexpected text after the last PEM block"),
        (lambda pem: pem.replace("\n", "\n\x00", 1), "not base64"),
        (lambda pem: pem + "é", "not ASCII"),
        (lambda pem: pem.replace("CERTIFICATE", "TRUSTED CERTIFICATE"), "TRUSTED CERTIFICATE"),
        (
            lambda pem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            "Could not load certificate: ",
        ),
    ],
)
def test_a_bad_certificate_field_is_refused(pair: tuple[str, str], build, reason: str) -> None:
    pem, key = pair

    fields = refusal(build(pem), key)

    assert list(fields) == ["certificate"]
    [message] = fields["certificate"]
    assert message.startswith("Could not load certificate: ")
    assert reason in message


def test_a_private_key_in_the_chain_is_refused(pair: tuple[str, str]) -> None:
    pem, key = pair

    [message] = refusal(f"{pem}{key}", key)["certificate"]

    assert "a PRIVATE KEY block where only CERTIFICATE blocks may be" in message


def test_a_certificate_whose_key_is_dsa_is_refused() -> None:
    key = dsa.generate_private_key(key_size=2048)

    fields = refusal(_certificate(key, subject=FULL_SUBJECT), _pem_key(key))

    assert fields["certificate"] == [
        "Could not load certificate: its public key is not RSA, EC, Ed25519 or Ed448"
    ]


def test_sizes_are_limited_before_parsing(pair: tuple[str, str]) -> None:
    pem, key = pair
    junk = "\x00" * 100

    fields = refusal(junk * 20, junk * 20, max_certificate_length=1999, max_key_length=1999)

    assert fields == {
        "certificate": ["Ensure this field has no more than 1999 characters."],
        "key": ["Ensure this field has no more than 1999 characters."],
    }
    parse(pem, key, max_certificate_length=len(pem), max_key_length=len(key))
    assert "certificate" in refusal(pem, key, max_certificate_length=len(pem) - 1)
    assert "key" in refusal(pem, key, max_key_length=len(key) - 1)


# Anything at all is refused cleanly

SEEDS = st.sampled_from(["cert", "key", "both"])
EDITS = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=1),
        st.integers(min_value=0, max_value=8),
        st.sampled_from(
            [
                "",
                "\n",
                "\x00",
                "é",
                "\ud800",
                "-----",
                "-----BEGIN CERTIFICATE-----\n",
                "-----END CERTIFICATE-----\n",
                "-----BEGIN PRIVATE KEY-----\n",
                "AAAA",
                "MII",
                "/+=",
                "junk",
            ]
        ),
    ),
    max_size=4,
)


def _mutate(text: str, edits: list[tuple[float, int, str]]) -> str:
    for where, cut, insert in edits:
        at = int(where * len(text))
        text = text[:at] + insert + text[at + cut :]
    return text


@settings(max_examples=300, deadline=None, database=None)
@given(
    seed=SEEDS,
    certificate_edits=EDITS,
    key_edits=EDITS,
    anything=st.text(max_size=50),
)
def test_any_input_is_accepted_or_refused_with_field_errors(
    pair: tuple[str, str], seed, certificate_edits, key_edits, anything
) -> None:
    pem, key = pair
    certificate_text = _mutate(pem if seed != "key" else anything, certificate_edits)
    key_text = _mutate(key if seed != "cert" else anything, key_edits)
    problems: dict[str, list[str]] = {}
    try:
        facts = parse(certificate_text, key_text)
    except errors.FieldErrors as exc:
        problems = exc.fields
    else:
        assert facts.expires == START + YEAR
    assert set(problems) <= {"certificate", "key"}
    assert all(problems.values())


# Names


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
