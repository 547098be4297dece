"""Certificate chains and private keys: checked to be a pair, or made (the fallback pair).

nginx would refuse a pair that does not parse or match only when it meets it; the agent
checks each pair first, so that the failure names what is wrong and whose it is.
"""

import datetime
from collections.abc import Iterable

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import NameOID


class BadPair(ValueError):
    """A chain or key that does not parse, or a key that is not the chain's first's."""

    def __init__(self, part: str, message: str) -> None:
        super().__init__(message)
        self.part = part
        """"certificate", "key" or "mismatch"."""


def load(certificate: bytes, key: bytes) -> tuple[list[x509.Certificate], PrivateKeyTypes]:
    """The chain (the server's certificate first) and the unencrypted key, once matched.

    Raises:
        BadPair: which part is wrong, and why.
    """
    try:
        chain = x509.load_pem_x509_certificates(certificate)
    except ValueError as error:
        raise BadPair("certificate", f"no PEM certificate: {error}") from error
    try:
        private = serialization.load_pem_private_key(key, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise BadPair("key", f"no unencrypted PEM private key: {error}") from error
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if chain[0].public_key().public_bytes(der, spki) != private.public_key().public_bytes(
        der, spki
    ):
        raise BadPair("mismatch", "the key is not the one of the (first) certificate")
    return chain, private


def self_signed(common_name: str, *, names: Iterable[str] = (), days: int = 3650) -> str:
    """A new EC key and a self-signed certificate, as one PEM text: the key, then the chain.

    The certificate names `common_name`, and the DNS `names` as subject alternative names.
    """
    now = datetime.datetime.now(datetime.UTC)
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
    )
    dns = [x509.DNSName(entry) for entry in names]
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName(dns), critical=False)
    certificate = builder.sign(private, hashes.SHA256())
    pem = serialization.Encoding.PEM
    key = private.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key.decode() + certificate.public_bytes(pem).decode()
