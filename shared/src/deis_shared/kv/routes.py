"""KV bucket `routes`, key `<app>`: how the router must serve an app.

Written by the controller when domains, certificates, whitelist, TLS or app settings change;
watched by the router agent, which renders nginx configuration from it and from `endpoints`.
Every host, domain and address here reaches nginx verbatim, hence the strict types of
`kv.hosts`.

The bucket carries TLS private keys in clear (`Certificate.key`): restrict who may read it,
and never log a value (the field is left out of `repr`).
"""

from typing import Final, Literal

from pydantic import Field

from deis_shared import appnames, wire
from deis_shared.kv import bucket, hosts

BUCKET = "routes"
"""Name of the KV bucket."""


def key(app: str) -> str:
    """Key of an app's routes.

    Args:
        app: The app name; validated.

    Returns:
        The app name itself.

    Raises:
        InvalidAppName: `app` is not a valid app name.
    """
    return appnames.validate_app_name(app)


class Certificate(wire.Part):
    """A TLS certificate attached to some of the app's domains."""

    name: str = Field(pattern=r"^[a-z0-9-]+$", max_length=253)
    domains: list[hosts.Domain]
    """Domains of this app the certificate is attached to."""
    certificate: str = Field(min_length=1)
    """PEM chain, leaf first."""
    key: str = Field(min_length=1, repr=False)
    """PEM private key."""


class Routes(wire.Message):
    """The routing of one app. Absent key: the app is not served."""

    schema_version: Literal[1] = Field(1, alias="schema")

    app: appnames.AppName
    default_domain: hosts.Domain
    """Full platform hostname of the app, e.g. `myapp.localhost`."""
    domains: list[hosts.Domain]
    """Custom domains in ACE form, wildcards as `*.example.com`. A domain without a dot (Deis
    creates one equal to the app name) is a label under the platform domain."""
    certificates: list[Certificate] = Field(default_factory=list)
    whitelist: list[hosts.WhitelistEntry] = Field(default_factory=list)
    """Addresses or networks allowed in; empty means everyone."""
    https_enforced: bool
    """Redirect HTTP to HTTPS (Deis's `null` is `False`)."""
    maintenance: bool
    """Serve a 503 maintenance page instead of the app."""
    routable: bool
    """Whether the app is served at all."""


SPEC: Final = bucket.Bucket(name=BUCKET, model=Routes, key=key)
"""The bucket as `deis_shared.bus.kv` reads and writes it."""
