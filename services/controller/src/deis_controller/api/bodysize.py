"""A cap on the size of every request body (`DEIS_MAX_REQUEST_BYTES`).

A pure ASGI middleware, so that no route reads more than the cap: a body whose
`Content-Length` says it is too large is answered 413 before a byte of it is read (the server
never hands on more than that length); a body sent chunked, whose length nothing declares, is
counted as it arrives, and the read that crosses the cap raises `errors.PayloadTooLarge`,
which the route's error handling answers with the same 413. Other requests pass untouched.
It sits inside `headers.VersionHeaders`, which adds the version headers to its answers too.
"""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deis_controller import errors


def too_large(limit: int) -> errors.PayloadTooLarge:
    """The error a body above `limit` bytes gets."""
    return errors.PayloadTooLarge(f"Request body too large: at most {limit} bytes are accepted.")


class BodySizeLimit:
    """Refuses request bodies above `limit` bytes with 413 `{"detail": ...}`."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 413 for a declared length above the cap; count the bytes of a chunked body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared, chunked = _framing(scope)
        if declared is not None and declared > self.limit:
            await _refuse(send, too_large(self.limit))
            return
        if not chunked:
            # The server reads exactly `Content-Length` bytes (or none): nothing to count.
            await self.app(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise too_large(self.limit)
            return message

        await self.app(scope, counted, send)


def _framing(scope: Scope) -> tuple[int | None, bool]:
    """The declared `Content-Length` (`None` if absent or unreadable); whether it is chunked."""
    declared, chunked = None, False
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = None
        elif name == b"transfer-encoding":
            chunked = True
    return declared, chunked


async def _refuse(send: Send, error: errors.ApiError) -> None:
    body = json.dumps(error.body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
