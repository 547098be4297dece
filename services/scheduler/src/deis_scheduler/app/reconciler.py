"""Watch KV `desired` and keep one worker per app converging on its latest value.

The watch delivers every key's latest value, then each change; a worker is told only "there is
a newer value" and always converges on the latest, so a burst of changes costs one or two
converges, never a replay. Every `resync_interval` each worker converges again whatever the
watch said. A converge that fails has already stopped what it started (`runtime`); what the
worker does next is `errors.retry_delay`'s call: a transient failure (NATS or the object store
away, or one nobody classified) is retried after a backoff that doubles up to a minute, a
permanent one waits for the next change or resync (a rollout's permanent failures never get
here: they fail their release).

Before the watch starts, `adopt` hands each app's process record to its worker; an adopted
app whose desired state is gone (deleted while no scheduler ran) is converged to nothing.

A desired state that does not validate (written around the controller, or by one with other
rules) is not converged on: the app keeps what it runs, and the release it names is failed
once, with the validation error as the reason (`AppProcesses.refuse`).
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

from deis_scheduler import errors
from deis_scheduler.app.backend import AppProcesses, ProcessBackend
from deis_scheduler.app.context import Context
from deis_shared import appnames, wire
from deis_shared.bus import errors as bus_errors, kv
from deis_shared.kv import desired as desired_kv

logger = logging.getLogger(__name__)

REASON_MAX = 1000
"""Characters of a validation error passed on as a failed deploy's reason."""


class AppWorker:
    """Converges one app whenever its desired state changes (or a resync asks)."""

    def __init__(
        self,
        runtime: AppProcesses,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Converge `runtime`, waiting with `sleep` between failed attempts."""
        self.runtime = runtime
        self._sleep = sleep
        self.latest: desired_kv.DesiredState | None = None
        self._offered = False
        """Whether `latest` was ever set: until then a wake-up converges nothing (an adopted
        app whose desired state cannot be read must not be taken for a deleted one)."""
        self._refusals: dict[int, str] = {}
        """Releases whose desired state cannot be read, to be failed, with the reason."""
        self._wake = asyncio.Event()
        self.converged = asyncio.Event()
        """Set after each converge that succeeded (tests and benchmarks wait on it)."""

    def offer(self, desired: desired_kv.DesiredState | None) -> None:
        """Note the newest desired state; the worker converges on it soon."""
        self.latest, self._offered = desired, True
        self.poke()

    def refuse(self, *, version: int, reason: str) -> None:
        """Fail release `version`, whose desired state cannot be read; `latest` stays."""
        self._refusals[version] = reason
        self.poke()

    def poke(self) -> None:
        """Converge again, even if nothing changed."""
        self._wake.set()

    async def run(self) -> None:
        """Converge on every wake-up, retrying failures with backoff; runs until cancelled."""
        failures = 0
        while True:
            await self._wake.wait()
            self._wake.clear()
            self.converged.clear()
            try:
                for version, reason in list(self._refusals.items()):
                    await self.runtime.refuse(version=version, reason=reason)
                    del self._refusals[version]
                if not self._offered:
                    continue
                await self.runtime.converge(self.latest)
            except Exception as exc:  # noqa: BLE001 -- classified by errors.retry_delay
                failures += 1
                delay = errors.retry_delay(exc, failures=failures)
                if delay is None:
                    failures = 0
                    logger.error("converging %s failed: %s", self.runtime.app, exc)
                    continue
                # Unclassified errors keep their traceback: they may be bugs.
                logger.warning(
                    "converging %s failed (%s); retrying in %.0f s",
                    self.runtime.app,
                    exc,
                    delay,
                    exc_info=not isinstance(exc, errors.TransientError),
                )
                await self._sleep(delay)
                self._wake.set()
                continue
            failures = 0
            self.converged.set()


class Reconciler:
    """The desired-state watch, the app workers and the periodic resync."""

    def __init__(
        self,
        ctx: Context,
        *,
        backend: ProcessBackend,
        watch: Callable[[], kv.Watcher[desired_kv.DesiredState]],
    ) -> None:
        self._ctx = ctx
        self._backend = backend
        self._watch = watch
        self.workers: dict[str, AppWorker] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.stop_processes_on_exit = ctx.settings.stop_processes_on_exit
        """Whether `close` stops the app processes rather than leaving them running; set for
        one shutdown by `deisctl down`'s signal (`service.run`)."""

    def worker(self, app: str) -> AppWorker:
        """The worker of `app`, started on first use."""
        if app not in self.workers:
            self._start_worker(self._backend.app(app))
        return self.workers[app]

    def _start_worker(self, runtime: AppProcesses) -> AppWorker:
        worker = AppWorker(runtime)
        self.workers[runtime.app] = worker
        self._tasks[runtime.app] = asyncio.create_task(worker.run(), name=f"converge-{runtime.app}")
        return worker

    async def adopt(self) -> None:
        """Take over the processes previous schedulers left running."""
        for runtime in await self._backend.adopt():
            worker = self._start_worker(runtime)
            if not await self._desired_exists(runtime.app):
                worker.offer(None)

    async def _desired_exists(self, app: str) -> bool:
        try:
            if await kv.read(self._ctx.js, desired_kv.SPEC, app) is None:
                return False  # absent, deleted or purged
        except (bus_errors.BusError, appnames.InvalidAppName) as exc:
            # The watch and the resyncs converge it later; assume it is still wanted.
            logger.warning("cannot read the desired state of %s: %s", app, exc)
        return True

    async def watch(self) -> None:
        """Feed every change of KV `desired` to its app's worker; runs until cancelled."""
        watcher = self._watch()
        try:
            async for entry in watcher:
                try:
                    app = appnames.validate_app_name(entry.key)
                except appnames.InvalidAppName:
                    logger.warning("ignoring desired state under key %r", entry.key)
                    continue
                if entry.data is None:
                    self.worker(app).offer(None)
                    continue
                try:
                    desired = entry.value()
                except wire.InvalidPayload as exc:
                    logger.error("ignoring desired state of %s: %s", app, exc)
                    version = _release_version(entry.data)
                    if version is not None:  # its release fails; what runs stays
                        self.worker(app).refuse(version=version, reason=str(exc)[:REASON_MAX])
                    continue
                self.worker(app).offer(desired)
        finally:
            await watcher.close()

    async def resync(self) -> None:
        """Poke every worker each `resync_interval`; runs until cancelled."""
        while True:
            await asyncio.sleep(self._ctx.settings.resync_interval)
            for worker in self.workers.values():
                worker.poke()

    async def close(self) -> None:
        """Stop the workers, then leave the app processes running or stop them. Idempotent.

        `stop_processes_on_exit` chooses: by default they run on for the next scheduler.
        """
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        runtimes = [worker.runtime for worker in self.workers.values()]
        self.workers.clear()
        if self.stop_processes_on_exit:
            await asyncio.gather(*(runtime.shutdown() for runtime in runtimes))
        else:
            await asyncio.gather(*(runtime.detach() for runtime in runtimes))


def _release_version(value: bytes) -> int | None:
    """The release a desired state that does not validate names, if it names one."""
    try:
        version = json.loads(value)["release"]["version"]
    except (ValueError, TypeError, KeyError):
        return None
    return version if type(version) is int and version >= 1 else None
