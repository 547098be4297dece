r"""One NATS connection per service, with an explicit lifecycle.

`connect()` fails fast with `BusUnavailable` when the first connection cannot be made (a
service should not start against a bus it cannot see), then reconnects forever: after the first
success a lost server is a transient condition the service rides out. nats-py has no such mode,
so the first attempt runs with a bounded attempt count and the options are widened afterwards.

    NEW --connect()--> CONNECTED --drain()--> DRAINING --> CLOSED
      \\------------------------------close()------------------^
"""

import enum
import logging
import urllib.parse

import nats
import nats.aio.client
import nats.aio.msg
import nats.errors
import nats.js

from deis_shared.bus import errors

logger = logging.getLogger(__name__)

Client = nats.aio.client.Client
"""nats-py's core client, as services name it (they import no `nats`)."""

JetStream = nats.js.JetStreamContext
"""nats-py's JetStream context, as services name it."""

Msg = nats.aio.msg.Msg
"""A received NATS message (core or JetStream), as services name it."""

RECONNECT_FOREVER = -1

_AUTHORIZATION_VIOLATION = "authorization violation"
"""How the server's refusal of a user or password reads, lower-cased."""


class BusState(enum.Enum):
    """Where a `Bus` is in its life."""

    NEW = "new"
    CONNECTED = "connected"
    DRAINING = "draining"
    CLOSED = "closed"


class Bus:
    """A nats-py client and its JetStream context, owned by the service runner."""

    def __init__(
        self, *, url: str, name: str, connect_timeout: float, reconnect_wait: float = 2.0
    ) -> None:
        self._url = url
        self._shown = redacted(url)
        """The URL as logs show it: without its password."""
        self._name = name
        self._connect_timeout = connect_timeout
        self._reconnect_wait = reconnect_wait
        self._nc = nats.aio.client.Client()
        self._js: nats.js.JetStreamContext | None = None
        self._state = BusState.NEW
        self._connect_error: Exception | None = None
        """Why the first connection failed: a refusal by the server, else the last error."""

    @property
    def state(self) -> BusState:
        """The lifecycle state."""
        return self._state

    @property
    def nc(self) -> nats.aio.client.Client:
        """The core NATS client (for subscriptions and requests).

        Raises:
            BusUnavailable: The bus is not connected (never was, or closed).
        """
        if self._state is not BusState.CONNECTED:
            raise errors.BusUnavailable(f"bus {self._name} is {self._state.value}")
        return self._nc

    @property
    def js(self) -> nats.js.JetStreamContext:
        """The JetStream context (streams, consumers, KV).

        Raises:
            BusUnavailable: The bus is not connected.
        """
        if self._state is not BusState.CONNECTED or self._js is None:
            raise errors.BusUnavailable(f"bus {self._name} is {self._state.value}")
        return self._js

    async def connect(self) -> None:
        """Make the first connection; later losses are reconnected forever.

        Raises:
            BusUnavailable: The server could not be reached.
        """
        if self._state is not BusState.NEW:
            raise errors.BusError(f"bus {self._name} is {self._state.value}, not new")
        try:
            await self._nc.connect(
                self._url,
                name=self._name,
                connect_timeout=self._connect_timeout,  # type: ignore[arg-type]
                # Two quick attempts, then NoServersError: see the module docstring.
                max_reconnect_attempts=1,
                reconnect_time_wait=0,
                error_cb=self._on_error,
                disconnected_cb=self._on_disconnected,
                reconnected_cb=self._on_reconnected,
            )
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            self._state = BusState.CLOSED
            await self._nc.close()
            message = f"cannot connect to NATS at {self._shown}: {self._reason(exc)}"
            if _refused(self._connect_error) or _refused(exc):
                raise errors.BusRefused(message) from exc
            raise errors.BusUnavailable(message) from exc
        self._nc.options["max_reconnect_attempts"] = RECONNECT_FOREVER
        self._nc.options["reconnect_time_wait"] = self._reconnect_wait
        self._js = self._nc.jetstream()
        self._state = BusState.CONNECTED
        logger.info("connected to NATS at %s as %s", self._shown, self._name)

    async def drain(self) -> None:
        """Stop subscriptions after their pending messages, flush publishes, then close.

        Idempotent; safe before `connect()`. Falls back to `close()` when draining fails.
        """
        if self._state is not BusState.CONNECTED:
            await self.close()
            return
        self._state = BusState.DRAINING
        try:
            await self._nc.drain()
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            logger.warning("draining NATS failed, closing instead: %r", exc)
        finally:
            await self.close()

    async def close(self) -> None:
        """Close the connection without draining. Idempotent; safe before `connect()`."""
        previous, self._state = self._state, BusState.CLOSED
        if previous in (BusState.NEW, BusState.CLOSED):
            return  # nothing opened (nats-py cannot close a client that never connected)
        if not self._nc.is_closed:
            await self._nc.close()

    def _reason(self, exc: Exception) -> str:
        # nats-py ends a failed first connection with NoServersError, or with the socket's
        # error when the server has just closed it; the reason (a refused password, say) went
        # to the error callback before.
        if _refused(self._connect_error) or _refused(exc):
            user = urllib.parse.urlsplit(self._url).username
            who = f"user {user!r}" if user else "a client without a user"
            return f"the server refused {who} (Authorization Violation): wrong or missing password"
        if isinstance(exc, nats.errors.NoServersError) and self._connect_error is not None:
            return repr(self._connect_error)
        return repr(exc)

    async def _on_error(self, exc: Exception) -> None:
        if self._state is BusState.NEW and not _refused(self._connect_error):
            self._connect_error = exc
        logger.warning("NATS error on %s: %r", self._name, exc)

    async def _on_disconnected(self) -> None:
        if self._state is BusState.CONNECTED:
            logger.warning("disconnected from NATS at %s; reconnecting", self._shown)

    async def _on_reconnected(self) -> None:
        logger.info("reconnected to NATS at %s", self._shown)


def _refused(exc: Exception | None) -> bool:
    """Whether `exc` is the server refusing the user or password."""
    return exc is not None and _AUTHORIZATION_VIOLATION in str(exc).lower()


async def connect(
    *, url: str, name: str, connect_timeout: float, reconnect_wait: float = 2.0
) -> Bus:
    """Connect a new `Bus`.

    Args:
        url: The server URL, e.g. `nats://127.0.0.1:4222`.
        name: The client name the server shows (the service name).
        connect_timeout: Seconds for one connection attempt.
        reconnect_wait: Seconds between reconnection attempts after the first success.

    Returns:
        A connected bus; the caller owns it and closes it.

    Raises:
        BusUnavailable: The first connection failed.
    """
    bus = Bus(url=url, name=name, connect_timeout=connect_timeout, reconnect_wait=reconnect_wait)
    await bus.connect()
    return bus


def redacted(url: str) -> str:
    """`url` with its password, if any, replaced by `***` (for logs and errors).

    Args:
        url: A server URL such as `nats://user:secret@127.0.0.1:4222`.

    Returns:
        The same URL with `***` for the password.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def jetstream(nc: Client, *, timeout: float = 5.0) -> JetStream:
    """A JetStream context on `nc` whose API calls wait at most `timeout` seconds.

    Args:
        nc: A connected client.
        timeout: Seconds each JetStream API request waits for its answer (nats-py's default).

    Returns:
        The context (nothing is sent to the server).
    """
    return nc.jetstream(timeout=timeout)
