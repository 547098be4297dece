import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from deis_scheduler.local import health
from deis_scheduler.local.health import NotReady
from deis_shared import errors

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def serve(handler: Handler) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        finally:
            writer.close()
            await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def answering(status: bytes) -> Handler:
    """A tiny HTTP responder answering every request with `status`, remembering requests."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(status + b"\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    return handler


@pytest.fixture
async def listening() -> AsyncIterator[int]:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    server, port = await serve(silent)
    async with server:
        yield port


async def test_tcp_ready_when_listening(listening: int) -> None:
    assert await health.tcp_ready("127.0.0.1", listening)


async def test_tcp_not_ready_on_a_closed_port() -> None:
    assert not await health.tcp_ready("127.0.0.1", health.free_port())


@pytest.mark.parametrize(
    ("status", "ready"),
    [
        (b"HTTP/1.1 200 OK", True),
        (b"HTTP/1.0 204 No Content", True),
        (b"HTTP/1.1 302 Found", True),
        (b"HTTP/1.1 404 Not Found", False),
        (b"HTTP/1.1 503 Service Unavailable", False),
        (b"SSH-2.0-OpenSSH_9.6", False),
        (b"HTTP/1.1 200", True),
    ],
)
async def test_http_ready_reads_the_status(status: bytes, ready: bool) -> None:
    server, port = await serve(answering(status))
    async with server:
        assert await health.http_ready("127.0.0.1", port, "/healthz") is ready


async def test_http_ready_sends_a_plain_get() -> None:
    requests: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\n\r\n")
        await writer.drain()

    server, port = await serve(handler)
    async with server:
        assert await health.http_ready("127.0.0.1", port, "/health?deep=1")
    request = requests[0].decode()
    assert request.startswith("GET /health?deep=1 HTTP/1.1\r\n")
    assert f"\r\nHost: 127.0.0.1:{port}\r\n" in request


async def test_http_not_ready_when_closed_silent_or_slow(listening: int) -> None:
    assert not await health.http_ready("127.0.0.1", health.free_port(), "/")
    # Accepts but never answers: the timeout decides.
    assert not await health.http_ready("127.0.0.1", listening, "/", timeout=0.1)


async def test_an_endless_status_line_is_not_ready() -> None:
    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 " + b"x" * 10_000)
        await writer.drain()

    server, port = await serve(flood)
    async with server:
        assert not await health.http_ready("127.0.0.1", port, "/")


@pytest.mark.parametrize("path", ["", "health", "/a b", "/x\r\nHost: evil", "/\u00e9"])
async def test_http_ready_refuses_bad_paths(path: str) -> None:
    with pytest.raises(ValueError, match="invalid health check path"):
        await health.http_ready("127.0.0.1", 1, path)


async def test_wait_until_ready_returns_once_the_check_passes() -> None:
    answers = iter([False, False, True])

    async def check() -> bool:
        return next(answers)

    await health.wait_until_ready(
        check, deadline=time.monotonic() + 2, alive=lambda: True, period=0.01
    )


async def test_wait_until_ready_gives_up_when_the_process_dies() -> None:
    checks = 0

    async def check() -> bool:
        nonlocal checks
        checks += 1
        return False

    with pytest.raises(NotReady, match=r"^exited before becoming healthy$") as caught:
        await health.wait_until_ready(
            check, deadline=time.monotonic() + 2, alive=lambda: checks < 3, period=0.01
        )
    assert isinstance(caught.value, errors.TransientError)
    assert checks == 3


async def test_wait_until_ready_gives_up_at_the_deadline() -> None:
    async def never() -> bool:
        return False

    started = time.monotonic()
    with pytest.raises(NotReady, match=r"^not healthy within 0\.2 s$"):
        await health.wait_until_ready(
            never, deadline=started + 0.2, alive=lambda: True, period=0.05
        )
    assert 0.2 <= time.monotonic() - started < 1.0


def test_free_port_is_bindable() -> None:
    port = health.free_port()
    assert 1024 <= port < 65536
