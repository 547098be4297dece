"""Response models of app settings, whitelist, TLS and pods for the OpenAPI document (§2.6, §2.11).

As in `api.schemas`, routes build their JSON by hand; these only document it.
"""

from typing import Any, Literal

from pydantic import BaseModel


class DetailOut(BaseModel):
    """An error explained in one sentence."""

    detail: str


UNPROCESSABLE: dict[int | str, dict[str, Any]] = {
    422: {"description": "A key or address to remove is not there.", "model": DetailOut}
}
"""Deis's 422 (`{"detail"}`), documented in place of FastAPI's validation error."""


class AutoscaleOut(BaseModel):
    """Autoscaling of one process type."""

    min: int
    max: int
    cpu_percent: int


class AppSettingsOut(BaseModel):
    """An app's latest settings."""

    uuid: str
    owner: str
    app: str
    maintenance: bool
    routable: bool
    whitelist: list[str]
    autoscale: dict[str, AutoscaleOut]
    label: dict[str, Any]
    created: str
    updated: str


class WhitelistOut(BaseModel):
    """The addresses allowed to reach an app (every address when empty)."""

    addresses: list[str]


class AutoTlsStatusOut(BaseModel):
    """Where automatic TLS stands for one domain of an app."""

    domain: str
    state: Literal["pending", "issuing", "issued", "failed", "manual"]
    certificate: str | None
    """Name of the certificate issued for it, if any."""
    expires: str | None
    last_error: str | None
    """The ACME problem (or other reason) of the last failure."""
    next_attempt: str | None
    """When a failed domain is tried again."""


class TlsOut(BaseModel):
    """Whether an app enforces HTTPS and gets certificates by ACME; `null` until first set."""

    uuid: str
    owner: str
    app: str
    https_enforced: bool | None
    certs_auto_enabled: bool | None
    certs_auto_status: list[AutoTlsStatusOut]
    """Each domain's automatic TLS state; empty while automatic TLS is off."""
    created: str
    updated: str


class PodOut(BaseModel):
    """One process of an app."""

    name: str
    state: str
    type: str
    release: str
    started: str


class PodListOut(BaseModel):
    """An app's pods: Deis's fake pagination, without `next` and `previous`."""

    results: list[PodOut]
    count: int
