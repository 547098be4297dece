"""Every router of the REST API, in the order they are mounted."""

from fastapi import APIRouter

from deis_controller.api.routes import apps, auth

ROUTERS: list[APIRouter] = [auth.router, apps.router]
