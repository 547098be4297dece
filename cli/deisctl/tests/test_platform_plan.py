"""What `deisctl up` would run, for the embedded defaults and with external servers."""

import os
import signal
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from deisctl.errors import CtlError
from deisctl.layout import Layout
from deisctl.platform import Options, make_plan

SERVICES = ["controller", "builder", "scheduler", "logger", "router"]


def plan_for(tmp_path: Path, **options):
    layout = Layout(tmp_path / "data")
    layout.create()
    environ = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DEIS_DATA_DIR": "/elsewhere"}
    return make_plan(Options(data_dir=layout.root, **options), layout, environ=environ), layout


def by_name(plan):
    return {component.name: component for component in plan.components}


def test_the_embedded_platform_runs_postgres_nats_and_every_service(open_dir):
    plan, layout = plan_for(open_dir, api_port=18000, ssh_port=12222, http_port=18080)
    components = by_name(plan)
    assert list(components) == ["postgres", "nats", *SERVICES]
    assert [c.wave for c in plan.components] == [0, 0, 1, 1, 1, 1, 1]
    controller = components["controller"].env
    assert controller["DEIS_API_PORT"] == "18000"
    # Each service that keeps state logs in as its own role, with a password of its own kept
    # in the data dir's secrets (owner-only); the others get no database at all.
    urls = {
        name: urlsplit(components[name].env["DEIS_DATABASE_URL"])
        for name in ("controller", "builder")
    }
    assert {name: url.username for name, url in urls.items()} == {
        "controller": "deis_controller",
        "builder": "deis_builder",
    }
    assert urls["controller"].password != urls["builder"].password
    assert (
        urls["controller"].password == (layout.secrets / "postgres-controller").read_text().strip()
    )
    assert (layout.secrets / "postgres").stat().st_mode & 0o777 == 0o600
    assert layout.secrets.stat().st_mode & 0o777 == 0o700
    for name in ("scheduler", "logger", "router"):
        assert "DEIS_DATABASE_URL" not in components[name].env
    # NATS: a user per service, each with its own password; the server's configuration, which
    # holds them, is the owner's alone and no password is on its command line.
    nats_urls = {name: urlsplit(components[name].env["DEIS_NATS_URL"]) for name in SERVICES}
    assert {name: url.username for name, url in nats_urls.items()} == {n: n for n in SERVICES}
    assert len({url.password for url in nats_urls.values()}) == len(SERVICES)
    command = components["nats"].command
    config = Path(command[command.index("--config") + 1])
    assert config.stat().st_mode & 0o777 == 0o600
    assert all(url.password in config.read_text() for url in nats_urls.values())
    assert not any(url.password in " ".join(command) for url in nats_urls.values())
    assert controller["DEIS_OBJECT_STORE"] == "filesystem"
    assert controller["DEIS_OBJECT_STORE_ROOT"] == str(layout.objects)
    assert components["builder"].env["DEIS_SSH_PORT"] == "12222"
    assert components["router"].env["DEIS_HTTP_PORT"] == "18080"
    # Alone, the scheduler leaves the apps running (for the next one to adopt); stopping the
    # platform stops them with it.
    assert "DEIS_STOP_PROCESSES_ON_EXIT" not in components["scheduler"].env
    assert components["scheduler"].stop_signal == signal.SIGUSR1
    # Likewise the router agent and its nginx (adopted by the next agent).
    assert components["router"].stop_signal == signal.SIGUSR1
    assert components["controller"].stop_signal == signal.SIGTERM
    for name in SERVICES:  # each its own part of the data dir, whatever the environment says
        assert components[name].env["DEIS_DATA_DIR"] == str(layout.service(name))
    assert plan.urls["apps"] == "http://<app>.localhost:18080"
    assert (layout.postgres / "data" / "PG_VERSION").exists()  # initdb ran


def test_external_servers_replace_the_embedded_ones(open_dir):
    tmp_path = open_dir
    plan, _ = plan_for(
        tmp_path,
        database_url="postgresql://deis@db.example:5432/deis",
        nats_url="nats://nats.example:4222",
        s3_endpoint_url="http://minio.example:9000",
        s3_bucket="platform",
    )
    components = by_name(plan)
    assert list(components) == SERVICES
    for name in SERVICES:
        env = components[name].env
        assert env["DEIS_NATS_URL"] == "nats://nats.example:4222"
        assert env["DEIS_OBJECT_STORE"] == "s3"
        assert env["DEIS_S3_ENDPOINT_URL"] == "http://minio.example:9000"
        assert env["DEIS_S3_BUCKET"] == "platform"
    assert components["controller"].env["DEIS_DATABASE_URL"] == (
        "postgresql://deis@db.example:5432/deis"
    )
    assert not (tmp_path / "data" / "postgres").exists()


def test_a_data_dir_postgres_cannot_reach_is_refused_with_a_reason(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("only root runs PostgreSQL as another user")
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    with pytest.raises(CtlError, match="cannot reach"):
        plan_for(closed)


EXTERNAL = {
    "database_url": "postgresql://deis@db.example:5432/deis",
    "nats_url": "nats://nats.example:4222",
}


def test_a_data_dir_the_apps_user_ids_cannot_reach_is_refused(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("only root runs apps as other user ids")
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    with pytest.raises(CtlError, match="user ids of their own, which cannot reach"):
        plan_for(closed, **EXTERNAL)


def test_a_host_without_bubblewrap_is_refused_with_what_to_install(open_dir, monkeypatch):
    empty = open_dir / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(CtlError, match="apps cannot be started: bubblewrap"):
        plan_for(open_dir, **EXTERNAL)
