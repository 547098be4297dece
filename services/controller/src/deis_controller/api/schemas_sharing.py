"""Response models of domains, certificates, SSH keys and collaborators (docs/api.md §2.7 to §2.10).

As in `api.schemas`, routes build their JSON by hand; these only document it.
"""

from pydantic import BaseModel


class DomainOut(BaseModel):
    """A domain of an app."""

    owner: str
    app: str
    domain: str
    created: str
    updated: str


class CertOut(BaseModel):
    """A TLS certificate, without its PEM texts."""

    id: int
    name: str
    common_name: str | None
    san: list[str]
    fingerprint: str
    expires: str
    starts: str
    issuer: str
    subject: str
    domains: list[str]
    owner: str
    created: str
    updated: str


class KeyOut(BaseModel):
    """An SSH public key."""

    uuid: str
    id: str
    owner: str
    public: str
    fingerprint: str
    created: str
    updated: str


class PermsOut(BaseModel):
    """The collaborators of an app."""

    users: list[str]
