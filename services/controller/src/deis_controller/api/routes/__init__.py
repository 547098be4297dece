"""Every router of the REST API, in the order they are mounted.

Routing tries routes one by one, so the app routes, which carry most of the traffic, come
first.
"""

from fastapi import APIRouter

from deis_controller.api.routes import (
    apps,
    appsettings,
    auth,
    builderhooks,
    builds,
    certs,
    config,
    domains,
    keys,
    metrics,
    perms,
    pods,
    releases,
    runlogs,
)

ROUTERS: list[APIRouter] = [
    apps.router,
    config.router,
    builds.router,
    releases.router,
    pods.router,
    runlogs.router,
    metrics.router,
    domains.router,
    perms.router,
    appsettings.router,
    auth.router,
    keys.router,
    certs.router,
    builderhooks.router,
]
