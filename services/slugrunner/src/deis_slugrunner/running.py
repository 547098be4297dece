"""Everything between start and exec: fetch, unpack, read the slug, build the app's process.

The object store may not answer yet when a pod starts (the platform's store restarting, a
network policy still being applied): an unreachable store is retried `fetch_attempts` times,
waiting one second and doubling, each failure logged, before the runner gives up and leaves
the retrying to the pod's restart policy. A missing slug or a broken one is not retried.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from deis_shared.objectstore import errors as store_errors, opening
from deis_slugrunner import environment, launching, slugs
from deis_slugrunner.settings import RunnerSettings

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

FIRST_DELAY = 1.0
"""Seconds before the second attempt to reach the store; doubled after each failure."""


class NoCommand(slugs.SlugError):
    """Neither `DEIS_COMMAND` nor the slug names a command for the process type."""


async def prepare(
    settings: RunnerSettings,
    *,
    process_type: str,
    environ: Mapping[str, str],
    sleep: Sleep,
    uid: int | None = None,
) -> launching.Launch:
    """Fetch and unpack the slug, and return the process the runner is to become.

    Args:
        settings: the runner's settings.
        process_type: the process type (`start <type>`), whose command the slug gives when
            `DEIS_COMMAND` is empty.
        environ: the runner's environment, the app's environment's first layer.
        sleep: waits between attempts to reach the store.
        uid: the user to run the app as, who is given the unpacked tree (None: the
            runner's own, who unpacked it).

    Raises:
        SlugError: no `DEIS_SLUG_KEY`, no slug under it, a slug that does not unpack or has
            unreadable metadata, or no command for the process type.
        ObjectStoreUnavailable: the store stayed unreachable through every attempt.
    """
    if not settings.slug_key:
        raise slugs.SlugError("DEIS_SLUG_KEY is not set: which slug to run?")
    tarball = await _download(settings, sleep=sleep)
    try:
        await slugs.unpack(tarball, into=settings.app_dir)
    finally:
        tarball.unlink(missing_ok=True)
    if uid is not None:
        await asyncio.to_thread(launching.give_to, settings.app_dir, uid)
    slug = slugs.read(settings.app_dir)
    command = settings.command or slug.process_types.get(process_type, "")
    if not command.strip():
        raise NoCommand(f"no command for process type {process_type!r}: DEIS_COMMAND is empty")
    env = environment.process_env(inherited=environ, slug_env=slug.env, home=str(settings.app_dir))
    return launching.shell(command, env=env, cwd=settings.app_dir, uid=uid)


async def _download(settings: RunnerSettings, *, sleep: Sleep) -> Path:
    delay = FIRST_DELAY
    for attempt in range(1, settings.fetch_attempts + 1):
        try:
            async with opening.open_store_from_settings(settings) as store:
                tarball = await slugs.download(
                    store, key=settings.slug_key, scratch=settings.scratch_dir
                )
        except store_errors.ObjectStoreUnavailable as error:
            if attempt == settings.fetch_attempts:
                raise
            logger.warning(
                "object store unreachable (attempt %d of %d), retrying in %.0f s: %s",
                attempt,
                settings.fetch_attempts,
                delay,
                error,
            )
            await sleep(delay)
            delay *= 2
        else:
            logger.info("slug fetched", extra={"key": settings.slug_key})
            return tarball
    raise AssertionError("unreachable: the last attempt returns or raises")
