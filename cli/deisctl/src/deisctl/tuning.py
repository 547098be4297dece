"""The services' own settings under `deisctl up`: `--set` and `<data>/config/<service>.env`.

An operator sets what a service's settings model offers (the controller's `rollout_wait`, the
scheduler's `deploy_timeout`, ...) in two ways:

    deisctl up --set controller.rollout_wait=20        this run only, like every `up` option
    <data>/config/controller.env: DEIS_ROLLOUT_WAIT=20  every run, until the file changes

A `--set` wins over its service's file. What `deisctl` wires itself (`WIRED`: the database and
NATS URLs, ports, data dirs, the health probe, the object store, the platform domain) is refused,
naming the option that sets it instead: the platform's own wiring is authoritative.

Everything is checked before anything starts. `deisctl` may not import the services (the
`deisctl-imports-no-service` import contract), so one child Python, the one the services run in,
constructs each named service's settings model with the operator's values (`_CHECK`): an
unknown name or a value the model refuses fails `up` with the model's own words.
"""

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from deis_cli import dotenv, errors
from deisctl.errors import CtlError
from deisctl.layout import SERVICES, Layout

MODELS = {
    "controller": "deis_controller.settings:ControllerSettings",
    "builder": "deis_builder.settings:BuilderSettings",
    "scheduler": "deis_scheduler.settings:SchedulerSettings",
    "logger": "deis_logger.settings:LoggerSettings",
    "router": "deis_router_agent.settings:RouterSettings",
}
"""Each service's settings model, as `module:class` for the child Python that checks values."""

WIRED = {
    "DEIS_DATABASE_URL": "--database-url",
    "DEIS_NATS_URL": "--nats-url",
    "DEIS_API_PORT": "--api-port",
    "DEIS_SSH_PORT": "--ssh-port",
    "DEIS_HTTP_PORT": "--http-port",
    "DEIS_ROUTER_URL_PORT": "--http-port",
    "DEIS_HTTPS_PORT": "--https-port",
    "DEIS_PLATFORM_DOMAIN": "--platform-domain",
    "DEIS_DATA_DIR": "--data-dir",
    "DEIS_OBJECT_STORE": "--s3-endpoint-url (without it: the data dir)",
    "DEIS_OBJECT_STORE_ROOT": "--data-dir",
    "DEIS_S3_ENDPOINT_URL": "--s3-endpoint-url",
    "DEIS_S3_BUCKET": "--s3-bucket",
    "DEIS_HEALTH_HOST": "none: deisctl probes each service's health port itself",
    "DEIS_HEALTH_PORT": "none: deisctl probes each service's health port itself",
}
"""What `deisctl` sets for every run, and the option an operator changes it with instead."""

_CHECK = """
import importlib, json, os, sys
import pydantic
checked = {}
for service, (model_path, values) in json.load(sys.stdin).items():
    module, name = model_path.split(":")
    model = getattr(importlib.import_module(module), name)
    for key in [k for k in os.environ if k.upper().startswith("DEIS_")]:
        del os.environ[key]
    os.environ.update(values)
    refused = []
    try:
        model()
    except pydantic.ValidationError as exc:
        refused = [[str(e["loc"][0]) if e["loc"] else "", e["msg"]] for e in exc.errors()]
    checked[service] = {"fields": sorted(model.model_fields), "refused": refused}
print(json.dumps(checked))
"""


def config_file(layout: Layout, service: str) -> Path:
    """Where `service`'s persistent settings live."""
    return layout.root / "config" / f"{service}.env"


def settings(
    layout: Layout, sets: Sequence[str], *, environ: Mapping[str, str]
) -> dict[str, dict[str, str]]:
    """Each service's `DEIS_*` settings from its config file and `--set`s, checked.

    Raises:
        CtlError: an unknown service or setting, a wired one, or a value the service refuses.
    """
    chosen: dict[str, dict[str, str]] = {}
    origins: dict[tuple[str, str], str] = {}
    folder = config_file(layout, SERVICES[0]).parent
    strays = sorted(p.name for p in folder.glob("*.env") if p.stem not in SERVICES)
    if strays:
        raise CtlError(
            f"{folder}: {', '.join(strays)} names no service; there are: {', '.join(SERVICES)}"
        )
    for service in SERVICES:
        path = config_file(layout, service)
        if not path.is_file():
            continue
        try:
            values = dotenv.parse(path.read_text(), source=str(path))
        except (OSError, errors.InvalidInput) as exc:
            raise CtlError(f"cannot read {path}: {exc}") from None
        for key, value in values.items():
            name = key.upper()
            if not name.startswith("DEIS_"):
                raise CtlError(f"{path}: {key} is not a setting (their names start with DEIS_)")
            _refuse_wired(name, origin=f"{path}: {key}")
            chosen.setdefault(service, {})[name] = value
            origins[service, name] = f"{path}: {key}"
    for text in sets:
        service, name, value = parse_set(text)
        _refuse_wired(name, origin=f"--set {text}")
        chosen.setdefault(service, {})[name] = value
        origins[service, name] = f"--set {text}"
    if chosen:
        _check(chosen, origins, environ=environ)
    return chosen


def named(*, acme_directory: str | None, acme_ca_bundle: Path | None) -> list[str]:
    """The `--set`s that `deisctl up`'s named service options stand for.

    They come before the `--set`s given, so a `--set` of the same setting wins.
    """
    sets = []
    if acme_directory is not None:
        sets.append(f"controller.acme_directory={acme_directory}")
    if acme_ca_bundle is not None:
        sets.append(f"controller.acme_ca_bundle={acme_ca_bundle.absolute()}")
    return sets


def parse_set(text: str) -> tuple[str, str, str]:
    """`service.setting=value` as (service, `DEIS_SETTING`, value).

    Raises:
        CtlError: not of that form, or no such service.
    """
    target, equals, value = text.partition("=")
    service, dot, setting = target.strip().partition(".")
    if not equals or not dot or not setting.strip():
        raise CtlError(
            f"--set {text}: expected <service>.<setting>=<value>, e.g. controller.rollout_wait=20"
        )
    if service not in SERVICES:
        raise CtlError(
            f"--set {text}: no service named {service!r}; there are: {', '.join(SERVICES)}"
        )
    return service, "DEIS_" + setting.strip().upper(), value


def _refuse_wired(name: str, *, origin: str) -> None:
    option = WIRED.get(name)
    if option is not None:
        raise CtlError(
            f"{origin}: {name} is deisctl's own wiring and cannot be set;"
            f" the option for it: {option}"
        )


def _check(
    chosen: dict[str, dict[str, str]],
    origins: dict[tuple[str, str], str],
    *,
    environ: Mapping[str, str],
) -> None:
    """Construct each service's settings model with `chosen`, in the services' Python.

    Raises:
        CtlError: a name the model lacks, or a value it refuses.
    """
    request = {service: (MODELS[service], values) for service, values in chosen.items()}
    env = {k: v for k, v in environ.items() if not k.upper().startswith("DEIS_")}
    done = subprocess.run(
        [sys.executable, "-c", _CHECK],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.splitlines()[-5:])
        raise CtlError(f"cannot check the services' settings:\n{tail}")
    checked: dict[str, dict[str, Any]] = json.loads(done.stdout)
    for service, values in chosen.items():
        fields = {str(f) for f in checked[service]["fields"]}
        for name in values:
            field = name.removeprefix("DEIS_").lower()
            if field not in fields:
                raise CtlError(
                    f"{origins[service, name]}: the {service} has no setting {field!r} ({name})"
                )
        for refused in checked[service]["refused"]:
            field, message = (str(part) for part in refused)
            name = "DEIS_" + field.upper()
            if name in values:
                raise CtlError(f"{origins[service, name]}: the {service} refuses it: {message}")
