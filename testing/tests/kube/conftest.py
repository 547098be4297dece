"""Clients of the emulator for its tests: the real kubernetes-asyncio client, over HTTP."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from kubernetes_asyncio import client, watch

from deis_testing.kube import KubeEmulator


@pytest.fixture
async def api(kube_api: KubeEmulator) -> AsyncIterator[client.ApiClient]:
    async with client.ApiClient(kube_api.configuration()) as api_client:
        yield api_client


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def apps(api: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api)


@pytest.fixture
async def ns(core: client.CoreV1Api) -> str:
    await core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="demo")))
    return "demo"


WatchUntil = Callable[..., Awaitable[list[dict[str, Any]]]]


@pytest.fixture
def watch_until() -> WatchUntil:
    """`await watch_until(list_func, *args, until=predicate)`: watch until an event matches.

    Returns every event seen, the matching one last; fails after `seconds` (5).
    """

    async def run(
        func: Callable[..., Any],
        *args: Any,
        until: Callable[[dict[str, Any]], bool],
        seconds: float = 5.0,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(seconds), watch.Watch() as stream:
            async for event in stream.stream(func, *args, **kwargs):
                seen.append(event)
                if until(event):
                    return seen
        raise AssertionError(f"the watch ended before the condition held: {seen}")

    return run
