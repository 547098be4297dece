"""Private keys: one clean block, an accepted algorithm and size, loaded at a bounded cost."""

import base64
import warnings

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dh, dsa, ec, ed448, ed25519, rsa, types
from cryptography.utils import CryptographyDeprecationWarning

from deis_controller import errors
from deis_controller.domain import privatekeys

LIMIT = 16 << 10


def pkcs8(key: types.PrivateKeyTypes, encryption=None) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        encryption or serialization.NoEncryption(),
    ).decode()


def traditional(key: types.PrivateKeyTypes, encryption=None) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        encryption or serialization.NoEncryption(),
    ).decode()


def refused(text: str, *, max_length: int = LIMIT) -> str:
    with pytest.raises(errors.FieldErrors) as caught:
        privatekeys.load(text, max_length=max_length)
    [message] = caught.value.fields["key"]
    return message


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_accepted_kinds(ec_key, rsa_key):
    for text in (
        pkcs8(ec_key),
        traditional(ec_key),
        pkcs8(rsa_key),
        traditional(rsa_key),
        pkcs8(ed25519.Ed25519PrivateKey.generate()),
        pkcs8(ed448.Ed448PrivateKey.generate()),
    ):
        key = privatekeys.load(text, max_length=LIMIT)
        assert key.public_key()


def test_ec_parameters_before_the_key_are_allowed_once(ec_key):
    parameters = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"

    key = privatekeys.load(parameters + traditional(ec_key), max_length=LIMIT)

    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert "found 3 blocks" in refused(parameters + traditional(ec_key) + parameters)
    assert "found 2 blocks" in refused(traditional(ec_key) + parameters)


def test_one_key_only(ec_key, rsa_key):
    assert refused(pkcs8(ec_key) + pkcs8(rsa_key)) == (
        "Could not load private key: expected one private key block, found 2 blocks"
    )


def test_encrypted_keys_are_refused(ec_key, rsa_key):
    password = serialization.BestAvailableEncryption(b"secret")

    assert refused(pkcs8(ec_key, password)) == (
        "Could not load private key: the key is encrypted; upload it without a passphrase"
    )
    assert refused(traditional(rsa_key, password)) == (
        "Could not load private key: the RSA PRIVATE KEY block is encrypted;"
        " upload it without a passphrase"
    )


def test_a_block_of_another_kind_is_refused():
    text = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"

    assert refused(text) == (
        "Could not load private key: a CERTIFICATE block where a private key should be"
    )


def test_junk_around_the_key_is_refused(ec_key):
    assert "after the last PEM block" in refused(pkcs8(ec_key) + "junk")
    assert "before the first PEM block" in refused("junk\n" + pkcs8(ec_key))
    assert "not ASCII" in refused(pkcs8(ec_key) + "\u2028")


def test_the_size_is_checked_first(ec_key):
    text = pkcs8(ec_key)

    assert privatekeys.load(text, max_length=len(text))
    assert refused("\x00" * 2000, max_length=1999) == (
        "Ensure this field has no more than 1999 characters."
    )


def test_dsa_keys_are_refused_before_loading():
    key = dsa.generate_private_key(key_size=1024)

    assert (
        refused(pkcs8(key))
        == "Could not load private key: the key is not RSA, EC, Ed25519 or Ed448"
    )


def test_diffie_hellman_keys_are_refused_before_loading(monkeypatch):
    """Loading one would test its parameters for primality: a cost the uploader chooses."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        key = dh.generate_parameters(generator=2, key_size=512).generate_private_key()
        text = pkcs8(key)

    def never(*args, **kwargs):
        raise AssertionError("the key was loaded")

    monkeypatch.setattr(serialization, "load_pem_private_key", never)

    assert refused(text) == "Could not load private key: the key is not RSA, EC, Ed25519 or Ed448"


def test_a_pkcs8_block_that_is_not_pkcs8_is_refused():
    text = "-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n"

    assert refused(text).startswith("Could not load private key: ")


@pytest.mark.parametrize("bits", [1024, 1536])
def test_small_rsa_keys_are_refused(bits):
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)

    assert refused(pkcs8(key)) == (
        "Could not load private key: RSA keys must have 2048 to 8192 bits"
    )


def _der_integer(value: int) -> bytes:
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return b"\x02" + _der_length(len(body)) + body


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


@pytest.mark.parametrize(
    ("field", "change"),
    [("p", lambda value: value + 2), ("dmp1", lambda value: value << 30_000)],
    ids=["factors-not-the-modulus", "exponent-above-its-modulus"],
)
def test_an_inconsistent_rsa_key_is_refused(rsa_key, field, change):
    """`cryptography` refuses to build such keys, so their PKCS #1 DER is written here. A huge
    CRT exponent would make every signature slow; OpenSSL would still sign correctly."""
    numbers = rsa_key.private_numbers()
    values = {
        "version": 0,
        "n": numbers.public_numbers.n,
        "e": numbers.public_numbers.e,
        "d": numbers.d,
        "p": numbers.p,
        "q": numbers.q,
        "dmp1": numbers.dmp1,
        "dmq1": numbers.dmq1,
        "iqmp": numbers.iqmp,
    }
    values[field] = change(values[field])
    body = b"".join(_der_integer(value) for value in values.values())
    der = b"\x30" + _der_length(len(body)) + body
    text = (
        "-----BEGIN RSA PRIVATE KEY-----\n"
        + base64.encodebytes(der).decode()
        + "-----END RSA PRIVATE KEY-----\n"
    )

    assert refused(text) == "Could not load private key: the RSA key is inconsistent"


def test_signs_for(ec_key, rsa_key):
    other_ec = ec.generate_private_key(ec.SECP256R1())
    ed = ed25519.Ed25519PrivateKey.generate()

    assert privatekeys.signs_for(ec_key, ec_key.public_key())
    assert privatekeys.signs_for(rsa_key, rsa_key.public_key())
    assert privatekeys.signs_for(ed, ed.public_key())
    assert not privatekeys.signs_for(ec_key, other_ec.public_key())
    assert not privatekeys.signs_for(ec_key, rsa_key.public_key())
    assert not privatekeys.signs_for(ed, ed25519.Ed25519PrivateKey.generate().public_key())
