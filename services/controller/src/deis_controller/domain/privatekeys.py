"""Private keys users upload with certificates: checked at a cost bounded by the text's length.

`load` accepts one `PRIVATE KEY` (PKCS #8), `RSA PRIVATE KEY` or `EC PRIVATE KEY` block (an
`EC PARAMETERS` block before it, as `openssl ecparam -genkey` writes, is allowed), unencrypted,
holding an RSA (2048 to 8192 bits), EC, Ed25519 or Ed448 key. Two costs are avoided on purpose:
the algorithm of a PKCS #8 key is read from its DER before the key is loaded, because loading a
Diffie-Hellman key runs a primality test on parameters the uploader chooses; and OpenSSL's
validation of RSA keys (primality tests of both factors, seconds for 8192 bits) is replaced by
p·q = n with every exponent below its modulus (which also bounds the cost of signing) and, once
the certificate is known, `signs_for`: a signature made with the key must verify with the
certificate's public key, which is what serving TLS needs of the pair.
"""

from cryptography import exceptions, x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa, types
from cryptography.x509.oid import PublicKeyAlgorithmOID

from deis_controller import errors
from deis_controller.domain import pem

KEY_ERROR = "Could not load private key: "
MIN_RSA_BITS = 2048
"""nginx, with OpenSSL's default security level, refuses smaller RSA keys."""
MAX_RSA_BITS = 8192

ALGORITHMS = (
    PublicKeyAlgorithmOID.RSAES_PKCS1_v1_5,
    PublicKeyAlgorithmOID.EC_PUBLIC_KEY,
    PublicKeyAlgorithmOID.ED25519,
    PublicKeyAlgorithmOID.ED448,
)
"""The key algorithms accepted, in keys and in certificates."""

LOAD_ERRORS = (
    ValueError,
    TypeError,
    exceptions.UnsupportedAlgorithm,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)
"""What `cryptography` raises for malformed input (the last two are not `ValueError`s)."""

_LABELS = frozenset({"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"})
_PROBE = b"deis: does this key sign for the certificate?"
_NOT_SUPPORTED = "the key is not RSA, EC, Ed25519 or Ed448"


def _error(reason: str) -> errors.FieldErrors:
    return errors.FieldErrors.one("key", f"{KEY_ERROR}{reason}")


def _der_element(data: bytes, offset: int, *, tag: int) -> tuple[int, int]:
    """Start and end of the contents of the DER element at `offset`, which must be a `tag`."""
    if offset + 2 > len(data) or data[offset] != tag:
        raise ValueError("not a PKCS #8 key")
    start, length = offset + 2, data[offset + 1]
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4 or start + count > len(data):
            raise ValueError("not a PKCS #8 key")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    if start + length > len(data):
        raise ValueError("not a PKCS #8 key")
    return start, start + length


def _oid_der(oid: x509.ObjectIdentifier) -> bytes:
    """The DER contents of an object identifier."""
    first, second, *rest = (int(arc) for arc in oid.dotted_string.split("."))
    encoded = bytearray()
    for arc in (40 * first + second, *rest):
        chunk = [arc & 0x7F]
        while arc := arc >> 7:
            chunk.append(0x80 | (arc & 0x7F))
        encoded.extend(reversed(chunk))
    return bytes(encoded)


_PKCS8_ALGORITHMS = frozenset(_oid_der(oid) for oid in ALGORITHMS)


def _pkcs8_algorithm(der: bytes) -> bytes:
    """The algorithm of a PKCS #8 `PrivateKeyInfo`, read without loading the key.

    Raises:
        ValueError: `der` does not start like a `PrivateKeyInfo`.
    """
    info, _ = _der_element(der, 0, tag=0x30)
    _, after_version = _der_element(der, info, tag=0x02)
    algorithm, _ = _der_element(der, after_version, tag=0x30)
    oid_start, oid_end = _der_element(der, algorithm, tag=0x06)
    return der[oid_start:oid_end]


def _block(text: str, *, max_length: int) -> pem.Block:
    if len(text) > max_length:
        raise errors.FieldErrors.one(
            "key", f"Ensure this field has no more than {max_length} characters."
        )
    try:
        found = pem.blocks(text)
    except pem.PemError as exc:
        raise _error(str(exc)) from exc
    if len(found) == 2 and found[0].label == "EC PARAMETERS":
        found = found[1:]
    if len(found) != 1:
        raise _error(f"expected one private key block, found {len(found)} blocks")
    (block,) = found
    if block.label == "ENCRYPTED PRIVATE KEY":
        raise _error("the key is encrypted; upload it without a passphrase")
    if block.label not in _LABELS:
        raise _error(f"a {block.label} block where a private key should be")
    return block


def load(text: str, *, max_length: int) -> types.PrivateKeyTypes:
    """The one private key in the PEM `text`.

    Raises:
        FieldErrors: On `key`: too long, not one clean PEM block of a private key, encrypted,
            malformed, or of an algorithm or size not accepted.
    """
    block = _block(text, max_length=max_length)
    try:
        if block.label == "PRIVATE KEY" and _pkcs8_algorithm(block.der) not in _PKCS8_ALGORITHMS:
            raise _error(_NOT_SUPPORTED)
        key = serialization.load_pem_private_key(
            block.text.encode(), password=None, unsafe_skip_rsa_key_validation=True
        )
    except LOAD_ERRORS as exc:
        raise _error(str(exc)) from exc
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.private_numbers()
        modulus = numbers.public_numbers.n
        if not MIN_RSA_BITS <= modulus.bit_length() <= MAX_RSA_BITS:
            raise _error(f"RSA keys must have {MIN_RSA_BITS} to {MAX_RSA_BITS} bits")
        in_range = (
            0 < numbers.d < modulus
            and 0 < numbers.dmp1 < numbers.p
            and 0 < numbers.dmq1 < numbers.q
            and 0 < numbers.iqmp < numbers.p
        )
        if numbers.p * numbers.q != modulus or not in_range:
            raise _error("the RSA key is inconsistent")
    elif not isinstance(
        key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
    ):
        raise _error(_NOT_SUPPORTED)
    return key


def signs_for(key: types.PrivateKeyTypes, public_key: types.CertificatePublicKeyTypes) -> bool:
    """Whether a signature made with `key` verifies with `public_key`."""
    try:
        if isinstance(key, rsa.RSAPrivateKey) and isinstance(public_key, rsa.RSAPublicKey):
            signature = key.sign(_PROBE, padding.PKCS1v15(), hashes.SHA256())
            public_key.verify(signature, _PROBE, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(
            public_key, ec.EllipticCurvePublicKey
        ):
            signature = key.sign(_PROBE, ec.ECDSA(hashes.SHA256()))
            public_key.verify(signature, _PROBE, ec.ECDSA(hashes.SHA256()))
        elif (
            isinstance(key, ed25519.Ed25519PrivateKey)
            and isinstance(public_key, ed25519.Ed25519PublicKey)
        ) or (
            isinstance(key, ed448.Ed448PrivateKey) and isinstance(public_key, ed448.Ed448PublicKey)
        ):
            public_key.verify(key.sign(_PROBE), _PROBE)
        else:
            return False
    except (exceptions.InvalidSignature, exceptions.InternalError, ValueError):
        return False
    return True
