"""Every router of the REST API, in the order they are mounted.

Routing tries routes one by one, so the app routes, which carry most of the traffic, come
first.
"""

from fastapi import APIRouter

from deis_controller.api.routes import (
    apps,
    appsettings,
    auth,
    builds,
    certs,
    config,
    domains,
    hooks,
    keys,
    metrics,
    perms,
    pods,
    processes,
    releases,
)

ROUTERS: list[APIRouter] = [
    apps.router,
    config.router,
    builds.router,
    releases.router,
    pods.router,
    processes.router,
    metrics.router,
    domains.router,
    perms.router,
    appsettings.router,
    auth.router,
    keys.router,
    certs.router,
    hooks.router,
]
