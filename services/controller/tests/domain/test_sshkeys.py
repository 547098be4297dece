"""SSH public key parsing, fingerprints and key ids (docs/api.md §2.10)."""

import base64
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from deis_controller import errors
from deis_controller.domain import sshkeys
from deis_shared.rpc import controller

INVALID = {"public": ["Key contains invalid base64 chars"]}


def _openssh(
    key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )


@pytest.fixture(scope="module")
def ed25519_line() -> str:
    return _openssh(ed25519.Ed25519PrivateKey.generate())


def _refused(public: str) -> dict[str, list[str]]:
    with pytest.raises(errors.FieldErrors) as caught:
        sshkeys.parse_public_key(public)
    return caught.value.fields


@pytest.mark.parametrize(
    ("key", "key_type"),
    [
        (ed25519.Ed25519PrivateKey.generate(), "ssh-ed25519"),
        (ec.generate_private_key(ec.SECP256R1()), "ecdsa-sha2-nistp256"),
        (ec.generate_private_key(ec.SECP384R1()), "ecdsa-sha2-nistp384"),
        (ec.generate_private_key(ec.SECP521R1()), "ecdsa-sha2-nistp521"),
        (rsa.generate_private_key(public_exponent=65537, key_size=1024), "ssh-rsa"),
    ],
)
def test_accepted_key_types(
    key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    key_type: str,
) -> None:
    line = _openssh(key)

    parsed = sshkeys.parse_public_key(f"  {line} me@laptop \n")

    assert parsed.public == f"{line} me@laptop"
    assert parsed.type == key_type
    assert parsed.comment == "me@laptop"
    assert re.fullmatch(controller.FINGERPRINT_PATTERN, parsed.fingerprint)


def test_a_dss_key_gets_the_structural_check() -> None:
    blob = struct.pack(">I", 7) + b"ssh-dss" + b"\x00\x00\x00\x01\x01" * 4
    line = f"ssh-dss {base64.b64encode(blob).decode()}"

    assert sshkeys.parse_public_key(line).type == "ssh-dss"


def test_comment_may_hold_spaces_and_is_optional(ed25519_line: str) -> None:
    assert sshkeys.parse_public_key(f"{ed25519_line} my work key").comment == "my work key"
    assert sshkeys.parse_public_key(ed25519_line).comment is None


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")
def test_fingerprint_matches_ssh_keygen(tmp_path: Path, ed25519_line: str) -> None:
    path = tmp_path / "id.pub"
    path.write_text(f"{ed25519_line} test\n")
    shown = subprocess.run(
        ["ssh-keygen", "-E", "md5", "-lf", str(path)], check=True, capture_output=True, text=True
    ).stdout

    expected = shown.split()[1].removeprefix("MD5:")
    assert sshkeys.parse_public_key(ed25519_line).fingerprint == expected


def test_fingerprint_is_md5_of_the_blob() -> None:
    assert sshkeys.fingerprint(b"") == "d4:1d:8c:d9:8f:00:b2:04:e9:80:09:98:ec:f8:42:7e"


@pytest.mark.parametrize("public", ["", "   ", "\n\t"])
def test_a_blank_key_is_refused(public: str) -> None:
    assert _refused(public) == {"public": ["This field may not be blank."]}


def test_a_non_string_is_refused() -> None:
    with pytest.raises(errors.FieldErrors) as caught:
        sshkeys.parse_public_key(42)

    assert caught.value.fields == {"public": ["Not a valid string."]}


def test_malformed_keys_are_refused(ed25519_line: str) -> None:
    key_type, encoded = ed25519_line.split()
    rsa_line = _openssh(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    cases = [
        key_type,
        encoded,
        f"{key_type} not*base64!",
        f"{key_type} {encoded[:-4]}",
        f"{key_type} {encoded}===",
        f"ssh-rsa {encoded}",
        f"ecdsa-sha2-nistp256 {rsa_line.split()[1]}",
        f"ssh-foo {encoded}",
        f"{key_type} {base64.b64encode(b'xyz').decode()}",
        f"{key_type} {base64.b64encode(b'').decode()}",
        f'command="sh" {ed25519_line}',
        f"{ed25519_line} comment\nssh-ed25519 AAAA injected",
        f"{ed25519_line} comment\x00",
        f"{key_type}\x0b{encoded}",
    ]
    for public in cases:
        assert _refused(public) == INVALID, public


@pytest.mark.parametrize("value", ["laptop", "a" * 128, " me@host "])
def test_valid_key_ids(value: str) -> None:
    assert sshkeys.validate_key_id(value) == value.strip()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "This field may not be blank."),
        ("   ", "This field may not be blank."),
        ("a" * 129, "Ensure this field has no more than 128 characters."),
        (None, "Not a valid string."),
    ],
)
def test_invalid_key_ids(value: object, message: str) -> None:
    with pytest.raises(errors.FieldErrors) as caught:
        sshkeys.validate_key_id(value)

    assert caught.value.fields == {"id": [message]}
