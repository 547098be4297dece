"""The HTTP surface: discovery documents, paths, error Statuses, kubeconfig."""

import json
from pathlib import Path

import aiohttp
import pytest
from kubernetes_asyncio import client, config

from deis_testing.kube import KubeEmulator


async def test_core_discovery_lists_the_served_kinds_and_subresources(api) -> None:
    versions = await client.CoreApi(api).get_api_versions()
    resources = await client.CoreV1Api(api).get_api_resources()
    names = {r.name for r in resources.resources}
    assert versions.versions == ["v1"]
    assert {
        "namespaces",
        "pods",
        "pods/log",
        "pods/status",
        "services",
        "secrets",
        "configmaps",
        "serviceaccounts",
        "events",
        "nodes",
    } <= names
    pods = next(r for r in resources.resources if r.name == "pods")
    assert pods.namespaced and pods.kind == "Pod" and "watch" in pods.verbs
    nodes = next(r for r in resources.resources if r.name == "nodes")
    assert not nodes.namespaced


async def test_group_discovery(api) -> None:
    groups = await client.ApisApi(api).get_api_versions()
    by_name = {g.name: [v.version for v in g.versions] for g in groups.groups}
    assert by_name == {
        "apps": ["v1"],
        "autoscaling": ["v2"],
        "networking.k8s.io": ["v1"],
        "policy": ["v1"],
    }
    resources = await client.AppsV1Api(api).get_api_resources()
    names = {r.name for r in resources.resources}
    assert {"deployments", "deployments/status", "deployments/scale", "replicasets"} <= names
    scale = next(r for r in resources.resources if r.name == "deployments/scale")
    assert (scale.group, scale.version, scale.kind) == ("autoscaling", "v1", "Scale")
    for api_class, name in (
        (client.AutoscalingV2Api, "horizontalpodautoscalers"),
        (client.NetworkingV1Api, "networkpolicies"),
        (client.PolicyV1Api, "poddisruptionbudgets"),
    ):
        listed = await api_class(api).get_api_resources()
        assert name in {r.name for r in listed.resources}


async def test_version(api) -> None:
    version = await client.VersionApi(api).get_code()
    assert (version.major, version.minor) == ("1", "37")


@pytest.mark.parametrize(
    "path", ["/apis/example.com/v1", "/api/v1/namespaces/default/pods/x/exec", "/api/v1/pods/x"]
)
async def test_unknown_paths_answer_a_not_found_status(kube_api: KubeEmulator, path) -> None:
    async with aiohttp.ClientSession() as session, session.get(kube_api.url + path) as response:
        body = await response.json()
    assert response.status == 404
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "NotFound", 404)


async def test_requests_are_recorded(kube_api: KubeEmulator, core) -> None:
    await core.list_namespace()
    assert ("GET", "/api/v1/namespaces") in kube_api.requests


async def test_kubeconfig_reaches_the_emulator(kube_api: KubeEmulator, tmp_path: Path) -> None:
    path = kube_api.write_kubeconfig(tmp_path / "kubeconfig", namespace="demo")
    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(path), client_configuration=configuration)
    assert configuration.host == kube_api.url
    async with client.ApiClient(configuration) as api:
        listed = await client.CoreV1Api(api).list_namespace()
    assert {"default", "kube-system"} <= {n.metadata.name for n in listed.items}
    assert path.stat().st_mode & 0o777 == 0o600


async def test_stop_is_idempotent_and_start_before_use() -> None:
    emulator = KubeEmulator()
    await emulator.stop()
    with pytest.raises(RuntimeError):
        _ = emulator.url
    async with emulator:
        assert emulator.url.startswith("http://127.0.0.1:")
    await emulator.stop()


async def test_a_raw_watch_is_chunked_newline_delimited_json(kube_api: KubeEmulator, core) -> None:
    await core.create_namespace({"metadata": {"name": "demo"}})
    query = {
        "watch": "1",
        "timeoutSeconds": "1",
        "labelSelector": "kubernetes.io/metadata.name=demo",
    }
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{kube_api.url}/api/v1/namespaces", params=query) as response,
    ):
        assert response.headers["Transfer-Encoding"] == "chunked"
        lines = [line async for line in response.content]
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "demo")
    assert event["object"]["kind"] == "Namespace"
