"""`DEIS_API_VERSION` and `DEIS_PLATFORM_VERSION` on every response (docs/api.md §1.3).

A pure ASGI middleware: cheaper than Starlette's `BaseHTTPMiddleware` and it also covers
streaming responses. Responses produced by the last-resort 500 handler bypass middleware, so
that handler adds the same headers through `VERSION_HEADERS`.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deis_controller.settings import API_VERSION, PLATFORM_VERSION

VERSION_HEADERS = {"DEIS_API_VERSION": API_VERSION, "DEIS_PLATFORM_VERSION": PLATFORM_VERSION}
"""The headers, for responses built outside the middleware."""

_RAW = [(name.encode(), value.encode()) for name, value in VERSION_HEADERS.items()]


class VersionHeaders:
    """Adds the version headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap `send` to add the headers to the response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_RAW]
            await send(message)

        await self.app(scope, receive, send_with_headers)
