"""Request-body models of app settings, whitelist, TLS and scale, for the OpenAPI document.

Validation itself is in the use cases (`app.appsettings`, `app.scale`) and their rules.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    """Base: unknown fields are ignored, as DRF does."""

    model_config = ConfigDict(extra="allow")


class AutoscaleBody(BaseModel):
    """Autoscaling of one process type; all three fields are required integers."""

    min: int = Field(ge=0)
    max: int = Field(ge=1)
    cpu_percent: int = Field(ge=1, le=100)


class SettingsBody(Body):
    """`POST /v2/apps/<id>/settings/`: any subset; a `null` entry of a map unsets its key.

    `autoscale` and `label` may also be strings holding JSON objects (form bodies).
    """

    maintenance: bool | None = None
    routable: bool | None = None
    whitelist: list[str] | None = None
    autoscale: dict[str, AutoscaleBody | None] | str | None = None
    label: dict[str, Any] | str | None = None


class WhitelistBody(Body):
    """`POST` and `DELETE /v2/apps/<id>/whitelist/`."""

    addresses: list[str]


class TlsBody(Body):
    """`POST /v2/apps/<id>/tls/`: either field or both.

    The `deis` client sends only `https_enforced`.
    """

    https_enforced: bool | None = None
    certs_auto_enabled: bool | None = None


class ScaleBody(BaseModel):
    """`POST /v2/apps/<id>/scale/`: process type -> count (an integer or numeric string)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "additionalProperties": {
                "anyOf": [
                    {"type": "integer", "minimum": 0},
                    {"type": "string", "pattern": "^[0-9]+$"},
                ]
            }
        },
    )
