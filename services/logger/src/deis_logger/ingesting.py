"""The ingest endpoint: Fluent Bit's batches of container log lines, stored on `deis.logs.<app>`.

    POST /v1/ingest/fluentbit      (on `ingest_host`:`ingest_port`, off unless the port is set)

The one way lines reach `LOGS` through the logger rather than beside it: on Kubernetes, where
no scheduler pumps the apps' output, a Fluent Bit DaemonSet posts them here (its `http`
output, `format json_lines`, optionally `compress gzip`). `fluentbit` maps the records; this
module is the HTTP around it. A request is checked in this order, and answered

    401  `ingest_token` is set and `Authorization: Bearer <token>` does not carry it
    415  the content type is not `application/json` (what Fluent Bit sends for json_lines) or
         `application/x-ndjson`, or the encoding is neither none nor gzip
    413  the body is over `ingest_max_body` bytes, as sent or once gunzipped
    400  the body is not valid: `{"detail": "line N: ..."}`, and nothing of it is published;
         an empty body too (Fluent Bit never posts one: something else is talking)
    503  NATS did not acknowledge every line within `ingest_publish_timeout` (or is away)
    500  the stream refused the lines for good (a JetStream error that is no outage); logged
    201  every line of a Deis app is stored: `{"accepted": <lines>, "dropped": <records>}`

Fluent Bit sends a batch again after any answer but 200-205, as often as its `Retry_Limit`
says. The lines are published with JetStream publishes, so a 201 means the server stored them;
after a 503 some may be stored already, and their ids (`fluentbit`) make the second sending
store each line once within the stream's duplicate window (two minutes). A 400 repeats itself:
Fluent Bit gives the batch up after its retries, and the logger's log says which line was bad.

Counted on the service's registry: `deis_logger_ingest_lines_total{outcome}` (`accepted`,
`dropped`, `rejected` for the records of a 400, `unavailable` for those of a 503 or 500) and
`deis_logger_ingest_requests_total{status}`.
"""

import hmac
import ipaddress
import logging
import zlib
from datetime import UTC, datetime
from typing import Final

from prometheus_client import CollectorRegistry, Counter
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from deis_logger import fluentbit
from deis_logger.settings import LoggerSettings
from deis_shared import errors, health
from deis_shared.bus import connection, errors as bus_errors, publishing
from deis_shared.events import logs

logger = logging.getLogger(__name__)

PATH: Final = "/v1/ingest/fluentbit"
"""The route Fluent Bit's `http` output posts to (its `uri`)."""

CONTENT_TYPES: Final = frozenset({"application/json", "application/x-ndjson"})
"""Media types taken: Fluent Bit's for json_lines, and the usual one of JSON lines."""

SHUTDOWN_GRACE: Final = 5
"""Seconds a stopping endpoint lets requests in flight finish."""


class _Refusal(Exception):
    """A request answered with an error status before anything is published."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


class Ingest:
    """The endpoint's handling: checks, mapping, publishing, counting."""

    def __init__(
        self,
        *,
        bus: connection.Bus,
        token: SecretStr | None,
        max_body: int,
        publish_timeout: float,
        registry: CollectorRegistry,
    ) -> None:
        self._bus = bus
        self._token = token.get_secret_value().encode() if token is not None else None
        self._max_body = max_body
        self._publish_timeout = publish_timeout
        self._lines = Counter(
            "deis_logger_ingest_lines",
            "Records received on the Fluent Bit ingest endpoint, by outcome",
            ["outcome"],
            registry=registry,
        )
        self._requests = Counter(
            "deis_logger_ingest_requests",
            "Requests to the Fluent Bit ingest endpoint, by answer",
            ["status"],
            registry=registry,
        )

    def app(self) -> Starlette:
        """The ASGI application serving `PATH`."""
        return Starlette(routes=[Route(PATH, self.handle, methods=["POST"])])

    async def handle(self, request: Request) -> Response:
        """Answer one batch (see the module docstring for the statuses)."""
        try:
            response = await self._ingest(request)
        except _Refusal as refusal:
            response = JSONResponse(
                {"detail": refusal.detail}, status_code=refusal.status, headers=refusal.headers
            )
        self._requests.labels(str(response.status_code)).inc()
        return response

    async def _ingest(self, request: Request) -> Response:
        self._authorize(request.headers.get("authorization"))
        _check_content_type(request.headers.get("content-type"))
        encoding = (request.headers.get("content-encoding") or "identity").strip().lower()
        if encoding not in ("identity", "gzip"):
            raise _Refusal(415, f"content encoding {encoding!r}: send gzip or none")
        body = await self._read(request)
        if encoding == "gzip":
            body = _gunzip(body, limit=self._max_body)
        try:
            batch = fluentbit.parse(body, received=datetime.now(UTC))
        except fluentbit.InvalidBatch as invalid:
            self._lines.labels("rejected").inc(_records(body))
            logger.warning("refused a Fluent Bit batch: %s", invalid)
            raise _Refusal(400, str(invalid)) from None
        try:
            await self._publish(batch.lines)
        except errors.TransientError as error:
            self._lines.labels("unavailable").inc(batch.records)
            logger.warning("could not store a Fluent Bit batch: %s", error)
            raise _Refusal(
                503, "the log bus is unavailable; send the batch again", {"Retry-After": "5"}
            ) from None
        except bus_errors.BusError as error:
            self._lines.labels("unavailable").inc(batch.records)
            logger.error("the log stream refused a Fluent Bit batch: %s", error)
            raise _Refusal(500, "the log stream refused the lines") from None
        self._lines.labels("accepted").inc(len(batch.lines))
        self._lines.labels("dropped").inc(batch.dropped)
        return JSONResponse({"accepted": len(batch.lines), "dropped": batch.dropped}, 201)

    def _authorize(self, header: str | None) -> None:
        if self._token is None:
            return
        scheme, _, credentials = (header or "").strip().partition(" ")
        given = credentials.strip().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(given, self._token):
            raise _Refusal(
                401,
                "a valid `Authorization: Bearer` token is required",
                {"WWW-Authenticate": "Bearer"},
            )

    async def _read(self, request: Request) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_body:
            raise _Refusal(413, _too_large(self._max_body))
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > self._max_body:
                raise _Refusal(413, _too_large(self._max_body))
        return bytes(body)

    async def _publish(self, lines: tuple[logs.LogLine, ...]) -> None:
        if not lines:
            return
        nc = self._bus.nc  # BusUnavailable when draining or closed
        if not nc.is_connected:
            # The client would queue the publishes until it reconnects: answer now instead.
            raise bus_errors.BusUnavailable("NATS is disconnected")
        await publishing.publish_many(
            self._bus.js,
            messages=[
                publishing.Outgoing(subject=logs.subject(line.app), data=line, msg_id=str(line.id))
                for line in lines
            ],
            timeout=self._publish_timeout,
        )


def _check_content_type(header: str | None) -> None:
    media = (header or "").split(";", 1)[0].strip().lower()
    if media in CONTENT_TYPES:
        return
    hint = " (set the http output's format to json_lines)" if "msgpack" in media else ""
    raise _Refusal(
        415, f"content type {media or 'none'!r}: send JSON lines as application/json{hint}"
    )


def _gunzip(body: bytes, *, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as error:
        raise _Refusal(400, f"the body is not gzip: {error}") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise _Refusal(413, _too_large(limit) + " once gunzipped")
    if not inflater.eof:
        raise _Refusal(400, "the body is not gzip: it ends early")
    return data


def _too_large(limit: int) -> str:
    return f"the body is over {limit} bytes; make Fluent Bit's chunks smaller"


def _records(body: bytes) -> int:
    return sum(1 for raw in body.split(b"\n") if raw.strip())


class IngestServer(health.BackgroundServer):
    """Serves `Ingest` on its own port; started and stopped by the logger's `service`."""

    def __init__(self, *, ingest: Ingest, host: str, port: int) -> None:
        super().__init__(
            ingest.app(),
            name="ingest-server",
            host=host,
            port=port,
            graceful_shutdown=SHUTDOWN_GRACE,
        )

    @classmethod
    def from_settings(
        cls, settings: LoggerSettings, *, bus: connection.Bus, registry: CollectorRegistry
    ) -> "IngestServer":
        """The endpoint as `settings` describe it (`ingest_port` must be set)."""
        if settings.ingest_port is None:
            raise ValueError("the ingest endpoint needs ingest_port")
        if settings.ingest_token is None and not _loopback(settings.ingest_host):
            logger.warning(
                "the Fluent Bit ingest endpoint listens on %s without a token "
                "(DEIS_INGEST_TOKEN): anyone reaching it can write any app's log",
                settings.ingest_host,
            )
        ingest = Ingest(
            bus=bus,
            token=settings.ingest_token,
            max_body=settings.ingest_max_body,
            publish_timeout=settings.ingest_publish_timeout,
            registry=registry,
        )
        return cls(ingest=ingest, host=settings.ingest_host, port=settings.ingest_port)

    async def start(self) -> None:
        """Bind and serve; returns once the port accepts connections."""
        await super().start()
        logger.info("Fluent Bit ingest endpoint on port %d", self.port)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
