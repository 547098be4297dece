"""Watches: events in order from a resourceVersion, resuming, 410 Gone, selectors, ends."""

import asyncio
from typing import Any

import pytest
from kubernetes_asyncio import client, watch

from deis_testing.kube import KubeEmulator


def config_map(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}}


async def test_a_watch_from_a_list_sees_every_later_change_in_order(core, ns, watch_until) -> None:
    await core.create_namespaced_config_map(ns, config_map("before"))
    listed = await core.list_namespaced_config_map(ns)

    async def change() -> None:
        await core.create_namespaced_config_map(ns, config_map("a"))
        await core.patch_namespaced_config_map("a", ns, {"data": {"k": "v"}})
        await core.delete_namespaced_config_map("a", ns)

    changing = asyncio.create_task(change())
    seen = await watch_until(
        core.list_namespaced_config_map,
        ns,
        resource_version=listed.metadata.resource_version,
        until=lambda e: e["type"] == "DELETED",
    )
    await changing
    assert [(e["type"], e["object"].metadata.name) for e in seen] == [
        ("ADDED", "a"),
        ("MODIFIED", "a"),
        ("DELETED", "a"),
    ]
    versions = [int(e["object"].metadata.resource_version) for e in seen]
    assert versions == sorted(versions) and len(set(versions)) == 3
    assert seen[1]["object"].data == {"k": "v"}
    assert seen[0]["raw_object"]["kind"] == "ConfigMap"


async def test_a_watch_without_a_version_starts_with_what_exists(core, ns, watch_until) -> None:
    await core.create_namespaced_config_map(ns, config_map("a"))
    await core.create_namespaced_config_map(ns, config_map("b"))
    seen = await watch_until(
        core.list_namespaced_config_map, ns, until=lambda e: e["object"].metadata.name == "b"
    )
    assert [(e["type"], e["object"].metadata.name) for e in seen] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
    ]


async def test_a_watch_resumes_after_the_server_ends_it(
    kube_api: KubeEmulator, core, ns, watch_until
) -> None:
    listed = await core.list_namespaced_config_map(ns)
    first_seen = asyncio.Event()

    async def change() -> None:
        await core.create_namespaced_config_map(ns, config_map("a"))
        await first_seen.wait()
        assert kube_api.end_watches() == 1
        await core.create_namespaced_config_map(ns, config_map("b"))

    def until(event: dict[str, Any]) -> bool:
        first_seen.set()
        return bool(event["object"].metadata.name == "b")

    changing = asyncio.create_task(change())
    seen = await watch_until(
        core.list_namespaced_config_map,
        ns,
        resource_version=listed.metadata.resource_version,
        until=until,
    )
    await changing
    assert [(e["type"], e["object"].metadata.name) for e in seen] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
    ]
    watches = [p for m, p in kube_api.requests if m == "GET" and "watch=True" in p]
    assert len(watches) == 2  # kubernetes-asyncio re-watched from the last version it saw


async def test_a_watch_from_a_compacted_version_gets_410(kube_api: KubeEmulator, core, ns) -> None:
    old = await core.create_namespaced_config_map(ns, config_map("a"))
    await core.patch_namespaced_config_map("a", ns, {"data": {"k": "v"}})
    kube_api.compact()
    async with watch.Watch() as stream:
        events = stream.stream(
            core.list_namespaced_config_map,
            ns,
            timeout_seconds=5,
            resource_version=old.metadata.resource_version,
        )
        with pytest.raises(client.ApiException) as caught:
            await anext(events)
    assert caught.value.status == 410
    assert "too old resource version" in str(caught.value.reason)


async def test_a_watch_from_after_compaction_works(
    kube_api: KubeEmulator, core, ns, watch_until
) -> None:
    await core.create_namespaced_config_map(ns, config_map("a"))
    kube_api.compact()
    listed = await core.list_namespaced_config_map(ns)
    changing = asyncio.create_task(core.create_namespaced_config_map(ns, config_map("b")))
    seen = await watch_until(
        core.list_namespaced_config_map,
        ns,
        resource_version=listed.metadata.resource_version,
        until=lambda e: True,
    )
    await changing
    assert seen[0]["object"].metadata.name == "b"


async def test_a_label_selector_turns_leaving_into_deleted(core, ns, watch_until) -> None:
    listed = await core.list_namespaced_config_map(ns)

    async def change() -> None:
        await core.create_namespaced_config_map(ns, config_map("a", app="x"))
        await core.create_namespaced_config_map(ns, config_map("other", app="y"))
        await core.patch_namespaced_config_map("a", ns, {"metadata": {"labels": {"app": "y"}}})

    changing = asyncio.create_task(change())
    seen = await watch_until(
        core.list_namespaced_config_map,
        ns,
        label_selector="app=x",
        resource_version=listed.metadata.resource_version,
        until=lambda e: e["type"] == "DELETED",
    )
    await changing
    assert [(e["type"], e["object"].metadata.name) for e in seen] == [
        ("ADDED", "a"),
        ("DELETED", "a"),
    ]


async def test_a_watch_across_namespaces(core, ns, watch_until) -> None:
    await core.create_namespace({"metadata": {"name": "other"}})
    changing = asyncio.create_task(core.create_namespaced_config_map("other", config_map("x")))
    seen = await watch_until(
        core.list_config_map_for_all_namespaces, until=lambda e: e["object"].metadata.name == "x"
    )
    await changing
    assert seen[-1]["object"].metadata.namespace == "other"


async def test_timeout_seconds_ends_the_watch(core, ns) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with watch.Watch() as stream:
        events = [e async for e in stream.stream(core.list_namespaced_pod, ns, timeout_seconds=1)]
    assert events == []
    assert 0.9 < loop.time() - started < 3


async def test_bookmarks_when_allowed(kube_api: KubeEmulator, core, ns) -> None:
    kube_api.timings.bookmark_interval = 0.05
    listed = await core.list_namespaced_pod(ns)
    async with watch.Watch() as stream:
        events = [
            e
            async for e in stream.stream(
                core.list_namespaced_pod,
                ns,
                timeout_seconds=1,
                allow_watch_bookmarks=True,
                resource_version=listed.metadata.resource_version,
            )
        ]
    assert events and {e["type"] for e in events} == {"BOOKMARK"}
    assert (
        events[0]["raw_object"]["metadata"]["resourceVersion"] == listed.metadata.resource_version
    )
