"""What other services must see of an app, recomputed from the database and sent via the outbox.

Every write that changes an app's running or routing state calls `sync` inside its
transaction, after taking the app's row lock (`lock_app`). `sync` reads the app's current
rows and enqueues the whole KV values `desired` and `routes`: level-triggered, so a reader
that sees only the last value still converges, and two writers of one app cannot reorder
their outbox rows because the lock serialises them (the relay publishes rows in commit order
of `seq`, which per app is commit order under the lock).
"""

import logging
from typing import Any, Literal
from uuid import UUID

import asyncpg

from deis_controller import errors
from deis_controller.settings import ControllerSettings
from deis_shared import processtypes
from deis_shared.events import logs as log_events
from deis_shared.kv import desired as desired_kv, routes as routes_kv
from deis_shared.kv.bucket import Bucket
from deis_shared.outbox import errors as outbox_errors, outbox
from deis_shared.wire import M

logger = logging.getLogger(__name__)

_CURRENT_RELEASE = """
SELECT r.uuid, r.version, r.summary, r.created,
       c.values, c.memory, c.cpu, c.tags, c.registry, c.healthcheck,
       b.uuid AS build_uuid, b.sha, b.slug_key, b.procfile, b.image
FROM releases r
JOIN configs c ON c.uuid = r.config_uuid
LEFT JOIN builds b ON b.uuid = r.build_uuid
WHERE r.app_uuid = $1 AND NOT r.failed
ORDER BY r.version DESC LIMIT 1
"""

_CURRENT_SETTINGS = """
SELECT maintenance, routable, whitelist, autoscale FROM app_settings
WHERE app_uuid = $1 ORDER BY seq DESC LIMIT 1
"""

_CURRENT_TLS = "SELECT https_enforced FROM tls WHERE app_uuid = $1 ORDER BY seq DESC LIMIT 1"

_DOMAINS = "SELECT domain FROM domains WHERE app_uuid = $1 ORDER BY domain"

_CERTIFICATES = """
SELECT c.name, c.certificate, c.key, array_agg(d.domain ORDER BY d.domain) AS domains
FROM domains d JOIN certificates c ON c.id = d.certificate_id
WHERE d.app_uuid = $1
GROUP BY c.id ORDER BY c.name
"""


async def lock_app(conn: asyncpg.Connection, *, app_uuid: UUID) -> dict[str, Any] | None:
    """Take the app's row lock for the rest of the transaction; its row, or `None` if gone."""
    row = await conn.fetchrow(
        "SELECT uuid, id, structure, restarts FROM apps WHERE uuid = $1 FOR UPDATE", app_uuid
    )
    return None if row is None else dict(row)


def healthchecks(
    healthcheck: dict[str, Any], *, types: list[str]
) -> dict[str, desired_kv.Healthcheck]:
    """Per-type probes with the `web/cmd` entry copied to `web` and `cmd` lacking their own."""
    resolved: dict[str, desired_kv.Healthcheck] = {}
    for kind in {*types, *healthcheck}:
        entry = healthcheck.get(kind)
        if entry is None and kind in processtypes.ROUTABLE:
            entry = healthcheck.get("web/cmd")
        if entry is None or "/" in kind:
            continue
        resolved[kind] = desired_kv.Healthcheck.model_validate(entry)
    return resolved


def port_of(values: dict[str, str], *, has_build: bool) -> int | None:
    """The web port: `PORT` from the config, else 5000 for slug builds (docs/api.md §3.4)."""
    if "PORT" in values:
        return int(values["PORT"])
    return 5000 if has_build else None


async def desired_state(
    conn: asyncpg.Connection,
    *,
    app_uuid: UUID,
    app_id: str,
    structure: dict[str, int],
    restarts: dict[str, int] | None = None,
) -> desired_kv.DesiredState | None:
    """The app's desired state, or `None` when it has no usable release."""
    release = await conn.fetchrow(_CURRENT_RELEASE, app_uuid)
    if release is None:
        return None
    settings = await conn.fetchrow(_CURRENT_SETTINGS, app_uuid)
    build = image = None
    if release["build_uuid"] is not None and release["slug_key"]:
        build = desired_kv.DesiredBuild(
            id=release["build_uuid"],
            sha=release["sha"],
            slug_key=release["slug_key"],
            procfile=release["procfile"],
        )
    elif release["build_uuid"] is not None and release["image"]:
        image = desired_kv.DesiredImage(
            id=release["build_uuid"],
            image=release["image"],
            sha=release["sha"] or "",
            procfile=release["procfile"] or {},
        )
    values: dict[str, str] = release["values"]
    procfile = build.procfile if build else image.procfile if image else {}
    types = sorted({*structure, *procfile})
    return desired_kv.DesiredState(
        app=app_id,
        release=desired_kv.DesiredRelease(
            id=release["uuid"],
            version=release["version"],
            summary=release["summary"],
            created=release["created"],
        ),
        build=build,
        image=image,
        formation=structure,
        restarts=restarts or {},
        config=values,
        limits=desired_kv.Limits(memory=release["memory"], cpu=release["cpu"]),
        healthchecks=healthchecks(release["healthcheck"], types=types),
        tags=release["tags"],
        registry=release["registry"],
        port=port_of(values, has_build=build is not None),
        routable=settings["routable"] if settings else True,
        maintenance=settings["maintenance"] if settings else False,
        autoscale=settings["autoscale"] if settings else {},
    )


async def routes(
    conn: asyncpg.Connection, *, app_uuid: UUID, app_id: str, platform_domain: str
) -> routes_kv.Routes:
    """How the router must serve the app."""
    settings = await conn.fetchrow(_CURRENT_SETTINGS, app_uuid)
    https = await conn.fetchval(_CURRENT_TLS, app_uuid)
    domains = [row["domain"] for row in await conn.fetch(_DOMAINS, app_uuid)]
    certificates = [
        routes_kv.Certificate(
            name=row["name"],
            domains=list(row["domains"]),
            certificate=row["certificate"],
            key=row["key"],
        )
        for row in await conn.fetch(_CERTIFICATES, app_uuid)
    ]
    return routes_kv.Routes(
        app=app_id,
        default_domain=f"{app_id}.{platform_domain}",
        domains=domains,
        certificates=certificates,
        whitelist=settings["whitelist"] if settings else [],
        https_enforced=bool(https),
        maintenance=settings["maintenance"] if settings else False,
        routable=settings["routable"] if settings else True,
    )


async def sync(
    conn: asyncpg.Connection,
    *,
    settings: ControllerSettings,
    app_uuid: UUID,
    parts: Literal["all", "desired"] = "all",
) -> None:
    """Enqueue the app's current `desired` and `routes` values (inside the caller's transaction).

    A value larger than the bus carries (`max_message_bytes`) could never be delivered: it is
    refused here, before the caller's transaction commits anything.

    Locks the app's row if the caller has not already. `parts="desired"` leaves `routes` out,
    for changes that cannot touch routing (a new release, a new formation): a config change
    is the commonest write, and each value left out saves several queries under the lock.
    """
    app = await lock_app(conn, app_uuid=app_uuid)
    if app is None:
        return
    limit = settings.max_message_bytes
    state = await desired_state(
        conn,
        app_uuid=app_uuid,
        app_id=app["id"],
        structure=app["structure"],
        restarts=app["restarts"],
    )
    if state is not None:
        await _put(conn, desired_kv.SPEC, app["id"], state, limit=limit)
    if parts == "desired":
        return
    routing = await routes(
        conn, app_uuid=app_uuid, app_id=app["id"], platform_domain=settings.platform_domain
    )
    await _put(conn, routes_kv.SPEC, app["id"], routing, limit=limit)


async def _put(
    conn: asyncpg.Connection,
    spec: Bucket[M],
    app_id: str,
    value: M,
    *,
    limit: int | None,
) -> None:
    """Enqueue an app's KV value, refusing one larger than the bus carries (400)."""
    try:
        await outbox.enqueue_put(conn, spec, app_id, value, max_payload=limit)
    except outbox_errors.TooLarge as exc:
        what = "config and healthchecks" if spec is desired_kv.SPEC else "domains and certificates"
        raise errors.BadRequest(
            f"This change would make what the platform sends for the app {exc.size:,} bytes, "
            f"more than the message bus carries ({exc.limit:,}): use fewer or smaller {what}."
        ) from exc


async def forget(conn: asyncpg.Connection, *, app_id: str) -> None:
    """Enqueue the deletion of a deleted app's `desired` and `routes` values."""
    await outbox.enqueue_delete(conn, desired_kv.SPEC, app_id)
    await outbox.enqueue_delete(conn, routes_kv.SPEC, app_id)


async def platform_log(conn: asyncpg.Connection, *, app_id: str, message: str) -> None:
    """Enqueue a platform line such as `alice scaled web=3` for the app's log."""
    line = log_events.LogLine(app=app_id, process="controller", message=message)
    await outbox.enqueue_event(conn, subject=log_events.subject(app_id), message=line)
