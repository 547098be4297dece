"""Request-body models of domains, certificates and SSH keys, for the OpenAPI document.

Validation itself is in the use cases (`app.domains`, `app.certs`, `app.keys`).
"""

from pydantic import BaseModel, ConfigDict


class Body(BaseModel):
    """Base: unknown fields are ignored, as DRF does."""

    model_config = ConfigDict(extra="allow")


class DomainBody(Body):
    """`POST /v2/apps/<id>/domains/`, and attaching a certificate to a domain."""

    domain: str


class CertBody(Body):
    """`POST /v2/certs/`: a name and the PEM certificate and private key."""

    name: str
    certificate: str
    key: str


class KeyBody(Body):
    """`POST /v2/keys/`: a name and the `.pub` line."""

    id: str
    public: str
