"""The kubernetes backend through the whole scheduler: desired state in KV, objects on the
(emulated) cluster, rollouts reported as deploy events, pods as KV `procs`."""

import asyncio
import uuid

import pytest

from deis_scheduler import service
from deis_testing.kube import Crash, Exit, ImagePullFailure, NeverReady, OOMKilled, Ready

PROCFILE = {"web": "python app.py", "worker": "python worker.py"}


async def deploy(platform, app, *, version, formation=None, config=None, tamper=None):
    await platform.desire(
        app,
        version=version,
        sha="a" * 7,
        procfile=PROCFILE,
        formation=formation or {"web": 2, "worker": 1},
        config=config,
        tamper=tamper,
    )
    return await platform.outcome(app, version)


def release_of(pod):
    env = {item["name"]: item.get("value") for item in pod["spec"]["containers"][0].get("env", [])}
    return env.get("WORKFLOW_RELEASE")


def pods(kube_api, app, *, kind=None):
    found = kube_api.objects("pods", app)
    return [
        pod
        for pod in found
        if kind is None or pod["metadata"]["labels"].get("type") == kind
        if not pod["metadata"].get("deletionTimestamp")
    ]


async def test_a_release_becomes_deployments_a_service_and_endpoints(
    platform, kube_api, app_name, until
):
    result, event = await deploy(platform, app_name, version=2)
    assert result == "succeeded", event

    web = kube_api.get("deployments", app_name, f"{app_name}-web")
    worker = kube_api.get("deployments", app_name, f"{app_name}-worker")
    assert web is not None and worker is not None
    assert (web["spec"]["replicas"], worker["spec"]["replicas"]) == (2, 1)
    assert kube_api.get("services", app_name, f"{app_name}-web") is not None
    assert kube_api.get("secrets", app_name, f"{app_name}-v2-env") is not None
    assert kube_api.get("networkpolicies", app_name, "isolation") is not None
    namespace = kube_api.get("namespaces", "", app_name)
    assert namespace["metadata"]["labels"].items() >= {"heritage": "deis", "app": app_name}.items()
    endpoints = await platform.endpoints(app_name)
    assert endpoints is not None and endpoints.version == 2
    assert [(u.host, u.port) for u in endpoints.upstreams] == [
        (f"{app_name}-web.{app_name}.svc.cluster.local", 80)
    ]

    async def all_up():
        procs = await platform.procs(app_name)
        states = sorted((p.type, p.index, p.state) for p in procs.processes) if procs else []
        return states == [("web", 1, "up"), ("web", 2, "up"), ("worker", 1, "up")]

    await until(all_up)


def same_release(first):
    """A `tamper` that keeps the release of the desired state `first` (as the controller
    writes one release once; `desire` makes a fresh one each time)."""

    def keep(value):
        value["release"] = first.release.model_dump(mode="json")

    return keep


async def test_scaling_changes_replicas_without_a_rollout(platform, kube_api, app_name, until):
    first = await platform.desire(
        app_name, version=2, sha="a" * 7, procfile=PROCFILE, formation={"web": 2, "worker": 1}
    )
    assert (await platform.outcome(app_name, 2))[0] == "succeeded"
    serving = {p["metadata"]["name"] for p in pods(kube_api, app_name, kind="web")}
    await platform.desire(
        app_name,
        version=2,
        sha="a" * 7,
        procfile=PROCFILE,
        formation={"web": 3, "worker": 0},
        tamper=same_release(first),
    )

    await until(lambda: asyncio.sleep(0, len(pods(kube_api, app_name, kind="web")) == 3))
    worker = f"{app_name}-worker"
    await until(lambda: asyncio.sleep(0, kube_api.get("deployments", app_name, worker) is None))
    assert serving <= {p["metadata"]["name"] for p in pods(kube_api, app_name, kind="web")}


async def test_a_config_change_rolls_out_a_new_release(platform, kube_api, app_name, until):
    assert (await deploy(platform, app_name, version=2))[0] == "succeeded"
    result, event = await deploy(platform, app_name, version=3, config={"GREETING": "hi"})
    assert result == "succeeded", event

    web = kube_api.get("deployments", app_name, f"{app_name}-web")
    assert web["spec"]["template"]["metadata"]["labels"]["version"] == "v3"
    secret = kube_api.get("secrets", app_name, f"{app_name}-v3-env")
    assert set(secret["data"]) == {"GREETING"}
    assert {release_of(p) for p in pods(kube_api, app_name)} == {"v3"}
    assert (await platform.endpoints(app_name)).version == 3


@pytest.mark.parametrize(
    ("behaviour", "said"),
    [
        (
            Crash(exit_code=3, logs=("booting", "KeyError: 'DATABASE_URL'")),
            "web exited with code 3 (crash loop)",
        ),
        (OOMKilled(), "web ran out of memory (OOMKilled)"),
        (
            ImagePullFailure(message="manifest unknown"),
            "web its image cannot be pulled: manifest unknown",
        ),
    ],
    ids=["crash", "oom", "image"],
)
async def test_a_failed_rollout_is_reported_and_the_previous_release_serves_on(
    platform, kube_api, app_name, until, behaviour, said
):
    assert (await deploy(platform, app_name, version=2))[0] == "succeeded"
    serving = {p["metadata"]["name"] for p in pods(kube_api, app_name)}
    kube_api.behaviour = lambda pod: behaviour if release_of(pod) == "v3" else Ready()

    result, event = await deploy(platform, app_name, version=3, config={"BROKEN": "1"})

    assert result == "failed"
    assert event["reason"].startswith(said.split(" (")[0]), event
    if isinstance(behaviour, Crash):
        assert event["last_lines"][-1] == "KeyError: 'DATABASE_URL'"
    web = kube_api.get("deployments", app_name, f"{app_name}-web")
    assert web["spec"]["template"]["metadata"]["labels"]["version"] == "v2"  # rolled back

    async def only_v2():
        return {release_of(p) for p in pods(kube_api, app_name)} == {"v2"}

    await until(only_v2)
    assert {p["metadata"]["name"] for p in pods(kube_api, app_name)} == serving
    assert (await platform.endpoints(app_name)).version == 2
    namespace = kube_api.get("namespaces", "", app_name)
    assert namespace["metadata"]["annotations"]["deis.io/failed"] == "3"


async def test_tags_no_node_has_fail_the_release_before_anything_runs(platform, kube_api, app_name):
    kube_api.set_nodes({"node-1": {"zone": "earth"}})
    assert (await deploy(platform, app_name, version=2))[0] == "succeeded"

    def on_mars(value):
        value["tags"] = {"zone": "mars"}

    result, event = await deploy(platform, app_name, version=3, tamper=on_mars)

    assert result == "failed"
    assert event["reason"] == "No nodes matched the provided labels: zone=mars"
    web = kube_api.get("deployments", app_name, f"{app_name}-web")
    assert web["spec"]["template"]["metadata"]["labels"]["version"] == "v2"

    def on_earth(value):
        value["tags"] = {"zone": "earth"}

    result, event = await deploy(platform, app_name, version=4, tamper=on_earth)
    assert result == "succeeded", event
    web = kube_api.get("deployments", app_name, f"{app_name}-web")
    assert web["spec"]["template"]["spec"]["nodeSelector"] == {"zone": "earth"}


async def test_autoscale_settings_make_and_remove_an_autoscaler(
    platform, kube_api, app_name, until
):
    def autoscaled(value):
        value["autoscale"] = {"web": {"min": 2, "max": 5, "cpu_percent": 60}}

    assert (await deploy(platform, app_name, version=2, tamper=autoscaled))[0] == "succeeded"
    hpa = kube_api.get("horizontalpodautoscalers", app_name, f"{app_name}-web")
    assert hpa is not None
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 5)

    assert (await deploy(platform, app_name, version=3))[0] == "succeeded"
    await until(
        lambda: asyncio.sleep(
            0, kube_api.get("horizontalpodautoscalers", app_name, f"{app_name}-web") is None
        )
    )


async def test_a_restart_replaces_the_pods_of_a_type(platform, kube_api, app_name, until):
    formation = {"web": 2, "worker": 1}
    first = await platform.desire(
        app_name, version=2, sha="a" * 7, procfile=PROCFILE, formation=formation
    )
    assert (await platform.outcome(app_name, 2))[0] == "succeeded"
    before = {p["metadata"]["name"] for p in pods(kube_api, app_name, kind="web")}
    workers = {p["metadata"]["name"] for p in pods(kube_api, app_name, kind="worker")}
    await platform.desire(
        app_name,
        version=2,
        sha="a" * 7,
        procfile=PROCFILE,
        formation=formation,
        restarts={"web": 1},
        tamper=same_release(first),
    )

    async def replaced():
        now = {p["metadata"]["name"] for p in pods(kube_api, app_name, kind="web")}
        return len(now) == 2 and not now & before

    await until(replaced)
    assert {p["metadata"]["name"] for p in pods(kube_api, app_name, kind="worker")} == workers


async def test_deis_run_is_a_pod_whose_output_and_code_come_back(
    platform, kube_api, app_name, until
):
    assert (await deploy(platform, app_name, version=2, formation={"web": 1}))[0] == "succeeded"

    def runs(pod):
        command = pod["spec"]["containers"][0]["env"]
        script = {e["name"]: e.get("value") for e in command}.get("DEIS_COMMAND", "")
        if pod["metadata"]["labels"].get("type") != "run":
            return Ready()
        if "sleep" in script:
            return NeverReady()
        code = 3 if "fail" in script else 0
        return Exit(exit_code=code, logs=("one", "two"), delay=0.05)

    kube_api.behaviour = runs
    ok = await platform.run(app_name, "echo one; echo two")
    assert (ok.exit_code, ok.output) == (0, "one\ntwo\n")
    failed = await platform.run(app_name, "fail now")
    assert failed.exit_code == 3
    late = await platform.run(app_name, "sleep 100", seconds=1.0)
    assert late.exit_code == 124
    assert late.output.endswith("(killed after 1 s)\n")
    await until(lambda: asyncio.sleep(0, not pods(kube_api, app_name, kind="run")))


async def test_deleting_the_app_deletes_its_namespace_and_keys(platform, kube_api, app_name, until):
    assert (await deploy(platform, app_name, version=2))[0] == "succeeded"
    await platform.forget(app_name)

    await until(lambda: asyncio.sleep(0, kube_api.get("namespaces", "", app_name) is None))

    async def keys_gone():
        return await platform.endpoints(app_name) is None and await platform.procs(app_name) is None

    await until(keys_gone)


async def test_an_image_release_runs_its_image(platform, kube_api, app_name):
    def pulled(value):
        value["build"] = None
        value["image"] = {"id": str(uuid.uuid4()), "image": "example/web:1", "procfile": {}}
        value["formation"] = {"cmd": 1}

    result, event = await deploy(platform, app_name, version=2, tamper=pulled)
    assert result == "succeeded", event
    cmd = kube_api.get("deployments", app_name, f"{app_name}-cmd")
    assert cmd["spec"]["template"]["spec"]["containers"][0]["image"] == "example/web:1"
    endpoints = await platform.endpoints(app_name)
    assert endpoints.process_type == "cmd"
    assert endpoints.upstreams[0].host == f"{app_name}-cmd.{app_name}.svc.cluster.local"


async def test_a_scheduler_restarted_mid_rollout_finishes_it_without_recreating_anything(
    bus, scheduler_settings, kube_api, app_name, until
):
    async with service.running(scheduler_settings):
        first = await bus.desire(
            app_name, version=2, sha="a" * 7, procfile=PROCFILE, formation={"web": 2}
        )
        assert (await bus.outcome(app_name, 2))[0] == "succeeded"
        kube_api.behaviour = lambda pod: Ready(delay=2.0) if release_of(pod) == "v3" else Ready()
        await bus.desire(
            app_name,
            version=3,
            sha="a" * 7,
            procfile=PROCFILE,
            formation={"web": 2},
            config={"NEW": "1"},
        )

        async def rolling():
            web = kube_api.get("deployments", app_name, f"{app_name}-web")
            return web["spec"]["template"]["metadata"]["labels"]["version"] == "v3"

        await until(rolling)
    assert (app_name, 3) not in bus.outcomes  # the first scheduler left before the end
    before = len(kube_api.requests)

    async with service.running(scheduler_settings):
        result, event = await bus.outcome(app_name, 3)
        assert result == "succeeded", event
        writes = [
            (method, path)
            for method, path in kube_api.requests[before:]
            if method in ("POST", "PUT", "PATCH", "DELETE")
        ]
        assert writes == []  # everything was right: re-listed, nothing recreated
    assert first.release.version == 2


async def test_expired_watches_list_again_and_rollouts_go_on(platform, kube_api, app_name):
    assert (await deploy(platform, app_name, version=2))[0] == "succeeded"
    cache = platform.scheduler.ctx.cache
    lists = cache.informers["Pod"].lists

    kube_api.compact()
    assert kube_api.end_watches() >= len(cache.informers)

    result, event = await deploy(platform, app_name, version=3, config={"AFTER": "410"})
    assert result == "succeeded", event
    assert cache.informers["Pod"].lists > lists
    assert (await platform.endpoints(app_name)).version == 3


async def test_a_restart_of_one_pod_replaces_that_pod_only(platform, kube_api, app_name, until):
    formation = {"web": 2, "worker": 1}
    first = await platform.desire(
        app_name, version=2, sha="a" * 7, procfile=PROCFILE, formation=formation
    )
    assert (await platform.outcome(app_name, 2))[0] == "succeeded"
    target, other = sorted(p["metadata"]["name"] for p in pods(kube_api, app_name, kind="web"))
    await platform.desire(
        app_name,
        version=2,
        sha="a" * 7,
        procfile=PROCFILE,
        formation=formation,
        restarts={target: 1},
        tamper=same_release(first),
    )

    async def replaced():
        now = {p["metadata"]["name"] for p in pods(kube_api, app_name, kind="web")}
        return len(now) == 2 and target not in now and other in now

    await until(replaced)
