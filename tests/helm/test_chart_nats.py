"""The chart's NATS configuration, run for real: three nats-servers with the rendered nats.conf
and routes form a JetStream cluster, the services' streams and buckets are kept on all three
(DEIS_JETSTREAM_REPLICAS), and an acknowledged write survives the loss of one server."""

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import nats.errors
import nats.js.errors
import pytest
from nats.aio.client import Client

from deis_shared.bus import errors as bus_errors, topology
from deis_testing import free_port
from deis_testing.nats import nats_server_binary
from deis_testing.ports import wait_for_port

SERVERS = 3


def adapt(conf: str, *, client: int, cluster: int, monitor: int, store: Path) -> str:
    """The rendered nats.conf with this machine's ports and directory for the pod's."""
    replaced = {
        'listen: "0.0.0.0:4222"': f'listen: "127.0.0.1:{client}"',
        'http: "127.0.0.1:8222"': f'http: "127.0.0.1:{monitor}"',
        'store_dir: "/data"': f'store_dir: "{store}"',
        'listen: "0.0.0.0:6222"': f'listen: "127.0.0.1:{cluster}"',
    }
    for old, new in replaced.items():
        assert old in conf, f"the chart's nats.conf no longer has {old!r}"
        conf = conf.replace(old, new)
    return conf


@contextlib.asynccontextmanager
async def cluster(
    chart, tmp_path: Path
) -> AsyncIterator[tuple[list[subprocess.Popen[bytes]], list[int], dict[str, str]]]:
    objects = chart.render({"nats": {"replicas": SERVERS}})
    conf = chart.find(objects, "ConfigMap", "deis-nats-config")["data"]["nats.conf"]
    statefulset = chart.find(objects, "StatefulSet", "deis-nats")
    args = chart.pod_spec(statefulset)["containers"][0]["args"]
    routes = args[args.index("--routes") + 1]
    secrets = chart.secret_values(objects)
    env = {
        item["name"]: secrets[
            (item["valueFrom"]["secretKeyRef"]["name"], item["valueFrom"]["secretKeyRef"]["key"])
        ]
        for item in chart.pod_spec(statefulset)["containers"][0]["env"]
        if "secretKeyRef" in item.get("valueFrom", {})
    }
    clients = [free_port() for _ in range(SERVERS)]
    clusters = [free_port() for _ in range(SERVERS)]
    for index, port in enumerate(clusters):
        host = f"deis-nats-{index}.deis-nats-headless.deis.svc.cluster.local:6222"
        assert host in routes
        routes = routes.replace(host, f"127.0.0.1:{port}")
    routes = routes.replace("$(NATS_CLUSTER_PASSWORD)", env["NATS_CLUSTER_PASSWORD"])
    processes = []
    logs = contextlib.ExitStack()
    try:
        for index in range(SERVERS):
            store = tmp_path / f"store-{index}"
            path = tmp_path / f"nats-{index}.conf"
            path.write_text(
                adapt(
                    conf,
                    client=clients[index],
                    cluster=clusters[index],
                    monitor=free_port(),
                    store=store,
                )
            )
            processes.append(
                subprocess.Popen(
                    [nats_server_binary(), "--config", str(path), "--routes", routes],
                    env={**os.environ, **env, "POD_NAME": f"deis-nats-{index}"},
                    stdout=subprocess.DEVNULL,
                    stderr=logs.enter_context((tmp_path / f"nats-{index}.log").open("wb")),
                )
            )
        for port in clients:
            await asyncio.to_thread(wait_for_port, port, timeout=20)
        yield processes, clients, env
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
            if process.poll() is None:
                process.kill()
                process.wait()
        logs.close()


async def connect(ports: list[int], user: str, password: str) -> Client:
    servers = [f"nats://127.0.0.1:{port}" for port in ports]
    return await nats.connect(
        servers,
        user=user,
        password=password,
        connect_timeout=2,
        max_reconnect_attempts=20,
        reconnect_time_wait=0.2,
        allow_reconnect=True,
    )


async def until(predicate, *, seconds: float):
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        try:
            return await predicate()
        except (nats.errors.Error, bus_errors.BusError, TimeoutError, OSError) as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no JetStream cluster after {seconds} s: {exc!r}") from exc
            await asyncio.sleep(0.5)


@pytest.mark.timeout(120)
async def test_the_chart_nats_cluster_keeps_acknowledged_events_through_a_lost_server(
    chart, tmp_path
):
    async with cluster(chart, tmp_path) as (processes, ports, env):
        scheduler = await connect(ports, "scheduler", env["NATS_SCHEDULER_PASSWORD"])
        controller = await connect(ports, "controller", env["NATS_CONTROLLER_PASSWORD"])
        try:
            js = scheduler.jetstream()
            # What every service does at start, as the chart configures it (3 replicas).
            await until(lambda: topology.ensure_topology(js, replicas=SERVERS), seconds=60)
            for stream in ("EVENTS", "LOGS", "KV_desired", "KV_procs"):
                info = await js.stream_info(stream)
                assert info.config.num_replicas == SERVERS, stream
                assert info.cluster is not None
                assert len(info.cluster.replicas or []) == SERVERS - 1, stream
            # A second service starting finds them right and changes nothing.
            await topology.ensure_topology(controller.jetstream(), replicas=SERVERS)

            processes[1].kill()  # one server lost, as a node going away
            processes[1].wait()
            ack = await until(
                lambda: controller.jetstream().publish(
                    "deis.events.release.myapp.created", b"{}", timeout=2
                ),
                seconds=30,
            )
            assert ack.stream == "EVENTS"
            info = await until(lambda: js.stream_info("EVENTS"), seconds=30)
            assert info.state.messages == 1
        finally:
            await scheduler.close()
            await controller.close()


@pytest.mark.timeout(60)
async def test_the_chart_nats_refuses_wrong_credentials_and_foreign_subjects(chart, tmp_path):
    async with cluster(chart, tmp_path) as (_processes, ports, env):
        # Spoken by hand: nats-py leaves its socket open when a connect is refused.
        reader, writer = await asyncio.open_connection("127.0.0.1", ports[0])
        try:
            assert (await reader.readline()).startswith(b"INFO ")
            writer.write(
                b'CONNECT {"user":"controller","pass":"wrong","verbose":false}\r\nPING\r\n'
            )
            await writer.drain()
            answer = await asyncio.wait_for(reader.readline(), timeout=5)
            assert b"Authorization Violation" in answer, answer
        finally:
            writer.close()
            await writer.wait_closed()
        errors: list[Exception] = []

        async def on_error(exc: Exception) -> None:
            errors.append(exc)

        router = await nats.connect(
            [f"nats://127.0.0.1:{ports[0]}"],
            user="router",
            password=env["NATS_ROUTER_PASSWORD"],
            error_cb=on_error,
        )
        try:
            await router.publish("$KV.desired.myapp", b"{}")  # the controller's to write
            await router.flush()
            for _ in range(50):
                if errors:
                    break
                await asyncio.sleep(0.1)
            assert any("permissions violation" in str(e).lower() for e in errors), errors
        finally:
            await router.close()
