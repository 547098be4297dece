"""The builder's end of the pre-receive hook: a Unix socket where pushes come to be built.

Each push registers a random token before it starts `git-receive-pack` and passes the token
and the socket path in git's environment; the hook (`hookscript`) connects, names the token
and sends the ref updates. The registered handler then runs with a `HookChannel` that frames
its output back to the hook, and its return value becomes the hook's exit code.

The socket lives in a private directory (0700) of the builder's, so only the builder's user
can connect; the token ties a connection to the push that expects it, and works once.

    HookServer: NEW --start()--> SERVING --close()--> CLOSED
"""

import asyncio
import contextlib
import enum
import json
import logging
import secrets
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from deis_builder import hookscript

logger = logging.getLogger(__name__)

MAX_REQUEST = 1024 * 1024
"""Largest hook request read, in bytes: ref lines of any sane push fit many times over."""


@dataclass(frozen=True)
class HookRequest:
    """What the hook sent: the ref-update lines and git's quarantine variables."""

    refs: str
    quarantine: Mapping[str, str]


class HookChannel:
    """The output side of one hook connection, with the output limit applied."""

    def __init__(self, writer: asyncio.StreamWriter, *, limit: int) -> None:
        self._writer = writer
        self._left = limit
        self._cut = False

    async def line(self, text: str) -> None:
        """Send one line to the user; past the output limit, lines are dropped with a notice.

        Raises:
            ConnectionError: The hook (and so the user) went away.
        """
        data = (text + "\n").encode(errors="replace")
        if len(data) > self._left:
            if self._cut:
                return
            self._cut = True
            data = b"       ... build output limit reached; further lines are not shown\n"
        else:
            self._left -= len(data)
        await self._send(hookscript.OUTPUT, data)

    async def exit(self, code: int) -> None:
        """Tell the hook to exit with `code`."""
        await self._send(hookscript.EXIT, str(code).encode())

    async def _send(self, kind: bytes, payload: bytes) -> None:
        self._writer.write(hookscript.HEADER.pack(kind, len(payload)) + payload)
        await self._writer.drain()


Handler = Callable[[HookRequest, HookChannel], Awaitable[int]]


class HookState(enum.Enum):
    """Where a `HookServer` is in its life."""

    NEW = "new"
    SERVING = "serving"
    CLOSED = "closed"


class HookServer:
    """The Unix socket hooks connect to, and the pushes waiting for them."""

    def __init__(self, *, output_limit: int) -> None:
        self._output_limit = output_limit
        self._handlers: dict[str, Handler] = {}
        self._dir: Path | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.state = HookState.NEW

    @property
    def path(self) -> Path:
        """The socket's path."""
        if self._dir is None:
            raise RuntimeError("the hook server is not started")
        return self._dir / "hook.sock"

    async def start(self) -> None:
        """Listen. The directory is made in the temp dir: socket paths must stay short."""
        if self.state is not HookState.NEW:
            raise RuntimeError(f"hook server is {self.state.value}")
        self._dir = Path(tempfile.mkdtemp(prefix="deis-builder-"))
        self._server = await asyncio.start_unix_server(
            self._serve, path=self.path, limit=MAX_REQUEST
        )
        self.state = HookState.SERVING

    async def close(self) -> None:
        """Stop listening; hooks being served are cut. Idempotent; safe before `start()`."""
        if self.state is HookState.CLOSED:
            return
        self.state = HookState.CLOSED
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    @contextlib.contextmanager
    def expect(self, handler: Handler) -> Iterator[str]:
        """Register `handler` for one hook connection; yield the token the hook must send."""
        token = secrets.token_urlsafe(24)
        self._handlers[token] = handler
        try:
            yield token
        finally:
            self._handlers.pop(token, None)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            logger.info("hook connection ended early: %r", exc)
        except Exception:
            logger.exception("serving a pre-receive hook failed")
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        channel = HookChannel(writer, limit=self._output_limit)
        try:
            body = json.loads(await reader.readuntil(b"\n"))
            handler = self._handlers.pop(str(body["token"]), None)
            request = HookRequest(
                refs=str(body["refs"]),
                quarantine={str(k): str(v) for k, v in dict(body["env"]).items()},
            )
        except (ValueError, KeyError, TypeError):
            handler = None
        if handler is None:
            await channel.line("! this push was not started through the builder")
            await channel.exit(1)
            return
        await channel.exit(await handler(request, channel))
