"""The backend's API client against the emulator: apply sends only what differs, a stale
replace is retried on a fresh read (409), and errors carry their status."""

import copy

import pytest

from deis_scheduler.kubernetes import manifests
from deis_scheduler.kubernetes.client import Kube, KubeError
from deis_scheduler.settings import SchedulerSettings


@pytest.fixture
async def kube(kube_api, tmp_path):
    settings = SchedulerSettings(kube_config=kube_api.write_kubeconfig(tmp_path / "kubeconfig"))
    client = await Kube.connect(settings)
    try:
        yield client
    finally:
        await client.close()


def config_map_like_secret(value: str) -> manifests.Manifest:
    return manifests.hashed(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": "thing", "namespace": "default", "labels": {"heritage": "deis"}},
            "stringData": {"value": value},
        }
    )


async def test_apply_creates_then_leaves_an_unchanged_object_alone(kube):
    created = await kube.apply(config_map_like_secret("one"), None)
    assert created is not None
    sent = kube.requests
    assert await kube.apply(config_map_like_secret("one"), created) is None
    assert kube.requests == sent  # nothing sent: the hash matched


async def test_a_stale_replace_is_retried_on_a_fresh_read(kube):
    created = await kube.apply(config_map_like_secret("one"), None)
    assert created is not None
    # Someone else changed it meanwhile: the object we hold is stale now.
    other = copy.deepcopy(created)
    other["metadata"]["labels"]["touched"] = "yes"
    await kube.replace(other)

    before = kube.requests
    replaced = await kube.apply(config_map_like_secret("two"), created)

    assert replaced is not None
    assert kube.requests - before == 3  # the refused replace (409), a read, the replace
    current = await kube.read("Secret", "thing", "default")
    assert current is not None
    assert (
        current["metadata"]["annotations"][manifests.SPEC_HASH]
        == (config_map_like_secret("two")["metadata"]["annotations"][manifests.SPEC_HASH])
    )


async def test_a_create_that_meets_an_existing_object_replaces_it(kube):
    await kube.apply(config_map_like_secret("one"), None)
    assert await kube.apply(config_map_like_secret("two"), None) is not None  # 409, then replace


async def test_missing_objects_and_refusals(kube, kube_api):
    assert await kube.read("Secret", "nothing", "default") is None
    assert await kube.delete("Secret", "nothing", "default") is False
    bad = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "x", "namespace": "default"},
        "bogus": 1,
    }
    with pytest.raises(KubeError) as refused:
        await kube.create(bad)
    assert refused.value.status == 422
    kube_api.invalid.clear()  # sent on purpose
