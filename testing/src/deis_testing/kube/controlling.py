"""The loop that runs the controller stand-ins: a queue of keys fed by store events and timers.

Each controller says which keys an event concerns (`keys`) and brings one key's objects to
where they should be (`reconcile`), level-based as Kubernetes controllers are: it reads the
store afresh each time, so a key queued twice is reconciled once. One task, named and held
here, drains the queue; timers (`later`, `call_later`) are held too, and `stop()` cancels
all of it. A controller that raises is an emulator bug: the failure is reported (the
fixture fails the test) and the loop goes on.
"""

import asyncio
import contextlib
import functools
import logging
import traceback
from collections.abc import Callable, Iterable
from typing import Protocol

from deis_testing.kube import errors
from deis_testing.kube.store import Event, Store

log = logging.getLogger(__name__)

Key = tuple[str, str]


class Controller(Protocol):
    """A controller stand-in."""

    name: str

    def keys(self, event: Event) -> Iterable[Key]:
        """The keys `event` concerns."""
        ...

    def reconcile(self, key: Key) -> None:
        """Bring the objects of `key` to where they should be."""
        ...


class Manager:
    """Queues keys for controllers and runs them, one at a time, on one task."""

    def __init__(self, store: Store, *, on_failure: Callable[[str], None]) -> None:
        self._controllers: dict[str, Controller] = {}
        self._dirty: dict[tuple[str, Key], None] = {}
        self._wake = asyncio.Event()
        self._timers: set[asyncio.TimerHandle] = set()
        self._task: asyncio.Task[None] | None = None
        self._on_failure = on_failure
        store.listen(self._on_event)

    def add(self, controller: Controller) -> None:
        """Run `controller` on the events from now on."""
        self._controllers[controller.name] = controller

    def enqueue(self, name: str, key: Key) -> None:
        """Have controller `name` reconcile `key` soon."""
        self._dirty[(name, key)] = None
        self._wake.set()

    def later(self, delay: float, name: str, key: Key) -> asyncio.TimerHandle:
        """Have controller `name` reconcile `key` in `delay` seconds."""
        return self.call_later(delay, lambda: self.enqueue(name, key))

    def call_later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        """Run `callback` in `delay` seconds, unless stopped first; failures are reported."""

        def fire() -> None:
            self._timers.discard(handle)
            self._guarded(callback, "timer")

        handle = asyncio.get_running_loop().call_later(max(delay, 0.0), fire)
        self._timers.add(handle)
        return handle

    def cancel(self, handle: asyncio.TimerHandle | None) -> None:
        """Cancel a timer from `later` or `call_later`."""
        if handle is not None:
            handle.cancel()
            self._timers.discard(handle)

    def start(self) -> None:
        """Start the loop's task."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="kube-emulator-controllers")

    async def stop(self) -> None:
        """Cancel the timers and the task; safe to call twice or before `start`."""
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _on_event(self, event: Event) -> None:
        for name, controller in self._controllers.items():
            for key in controller.keys(event):
                self.enqueue(name, key)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._dirty:
                name, key = next(iter(self._dirty))
                del self._dirty[(name, key)]
                controller = self._controllers[name]
                self._guarded(functools.partial(controller.reconcile, key), f"{name} {key}")
                await asyncio.sleep(0)  # let requests in between, as a real cluster would

    def _guarded(self, call: Callable[[], None], what: str) -> None:
        try:
            call()
        except errors.ApiError as exc:
            # The world moved on (the object went, its namespace is terminating): the event
            # that follows brings the controller back if there is still work.
            log.debug("%s: %s", what, exc)
        except Exception:  # noqa: BLE001  # reported: the fixture fails the test
            self._on_failure(f"{what}: {traceback.format_exc()}")
