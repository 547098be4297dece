"""The environment the chart gives each service parses into that service's settings model, with
the values the chart means: chart and code cannot drift apart."""

import json

import pytest
from helm_python.errors import HelmError
from pydantic import BaseModel

from deis_builder.settings import BuilderSettings
from deis_controller.settings import ControllerSettings
from deis_logger.settings import LoggerSettings
from deis_router_agent.settings import RouterSettings
from deis_scheduler.settings import SchedulerSettings
from deis_shared.settings import ServiceSettings

MODELS: dict[str, type[ServiceSettings]] = {
    "deis-controller": ControllerSettings,
    "deis-builder": BuilderSettings,
    "deis-scheduler": SchedulerSettings,
    "deis-logger": LoggerSettings,
    "deis-router": RouterSettings,
}


def settings_of(chart, name, objects, monkeypatch, *, given=None) -> ServiceSettings:
    workload = next(w for w in chart.workloads(objects) if w["metadata"]["name"] == name)
    env = chart.container_env(workload, objects, given=given)
    unresolved = {k: v for k, v in env.items() if "$(" in v}
    assert not unresolved, f"{name}: references to nothing: {unresolved}"
    for variable in [v for v in list(_environ()) if v.startswith("DEIS_")]:
        monkeypatch.delenv(variable)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = MODELS[name]()
    # Every DEIS_ variable the chart sets is a field of the model: a misspelt one would be
    # ignored (extra="ignore") and the service would run on the default.
    fields = {f"DEIS_{field.upper()}" for field in MODELS[name].model_fields}
    assert {k for k in env if k.startswith("DEIS_")} <= fields, name
    return settings


def _environ():
    import os

    return os.environ


@pytest.mark.parametrize("name", sorted(MODELS))
def test_each_service_parses_what_the_chart_gives_it(chart, scenario, name, monkeypatch):
    values = chart.scenarios[scenario]
    objects = chart.render(values)
    given = _brought(chart, objects)
    settings = settings_of(chart, name, objects, monkeypatch, given=given)
    merged = chart.merged(values)
    assert settings.environment == "production"
    assert settings.log_json is True
    assert settings.health_host == "0.0.0.0"
    assert settings.health_port == 9000
    assert settings.nats_url.startswith(f"nats://{_nats_user(name)}:")
    assert settings.nats_url.endswith("@deis-nats.deis.svc.cluster.local:4222")
    assert settings.jetstream_replicas == min(3, merged["nats"]["replicas"])
    assert (
        getattr(settings, "platform_domain", merged["platformDomain"]) == merged["platformDomain"]
    )
    if name in ("deis-controller", "deis-builder"):
        assert settings.database_url is not None
        if merged["postgres"]["enabled"]:
            role = name.removeprefix("deis-")
            assert settings.database_url.startswith(f"postgresql://deis_{role}:")
            assert settings.database_url.endswith(
                "@deis-postgres.deis.svc.cluster.local:5432/postgres"
            )
        else:
            assert settings.database_url == merged["externalDatabase"]["url"]
    if name in ("deis-builder", "deis-scheduler", "deis-logger"):
        assert settings.object_store == "s3"
        assert settings.s3_access_key_id is not None
        if merged["s3"]["enabled"]:
            assert settings.s3_endpoint_url == "http://deis-s3.deis.svc.cluster.local:9000"
        else:
            assert settings.s3_endpoint_url == merged["externalS3"]["endpoint"]
            assert settings.s3_bucket == merged["externalS3"]["bucket"]
            assert settings.s3_region == merged["externalS3"]["region"]


def test_the_scheduler_runs_apps_on_the_cluster_as_the_values_say(chart, monkeypatch):
    values = {"scheduler": {"progressDeadline": 300, "appUser": 2000}, "images": {"tag": "v9"}}
    objects = chart.render(values)
    settings = settings_of(chart, "deis-scheduler", objects, monkeypatch)
    assert isinstance(settings, SchedulerSettings)
    assert settings.backend == "kubernetes"
    assert settings.kube_config is None  # in-cluster: the service account's token
    assert settings.kube_runner_image == "deis/slugrunner:v9"
    assert settings.kube_progress_deadline == 300
    assert settings.kube_run_as_user == 2000
    assert settings.kube_platform_namespace == "deis"


def test_the_controller_listens_for_the_cluster(chart, monkeypatch):
    objects = chart.render({"controller": {"registrationMode": "admin_only", "rolloutWait": 60}})
    settings = settings_of(chart, "deis-controller", objects, monkeypatch)
    assert isinstance(settings, ControllerSettings)
    assert settings.api_host == "0.0.0.0"
    assert settings.api_port == 8000
    assert settings.registration_mode == "admin_only"
    assert settings.rollout_wait == 60
    assert settings.reserved_names == ["deis"]  # the controller's name on the routers
    assert len(settings.builder_key.get_secret_value()) == 40


def test_the_controller_issues_certificates_as_the_values_say(chart, monkeypatch):
    default = settings_of(chart, "deis-controller", chart.render({}), monkeypatch)
    assert isinstance(default, ControllerSettings)
    assert default.acme_directory == "https://acme-v02.api.letsencrypt.org/directory"
    assert default.acme_email is None
    assert default.acme_platform_domain_public is False
    assert default.platform_domain == "deis.example.com"
    acme = {
        "directory": "https://acme-staging-v02.api.letsencrypt.org/directory",
        "email": "ops@example.com",
        "platformDomainPublic": True,
    }
    objects = chart.render({"controller": {"acme": acme}})
    settings = settings_of(chart, "deis-controller", objects, monkeypatch)
    assert isinstance(settings, ControllerSettings)
    assert settings.acme_directory == acme["directory"]
    assert settings.acme_email == "ops@example.com"
    assert settings.acme_platform_domain_public is True


def test_the_builder_serves_ssh_with_the_generated_host_key(chart, monkeypatch):
    import asyncssh

    objects = chart.render({})
    settings = settings_of(chart, "deis-builder", objects, monkeypatch)
    assert isinstance(settings, BuilderSettings)
    assert settings.ssh_port == 2222
    assert settings.ssh_host == "0.0.0.0"
    assert str(settings.host_key) == "/etc/deis/ssh/host_key"
    # The key the Secret holds (genPrivateKey's PKCS#8 PEM) is one asyncssh serves with.
    pem = chart.secret_values(objects)[("deis-credentials", "builder-host-key")]
    assert asyncssh.import_private_key(pem).get_algorithm() == "ssh-ed25519"
    builder = chart.find(objects, "Deployment", "deis-builder")
    volume = next(v for v in chart.pod_spec(builder)["volumes"] if v["name"] == "host-key")
    assert volume["secret"]["items"] == [{"key": "builder-host-key", "path": "host_key"}]
    # The URL a push prints: the routers' HTTP port, 80, is left out.
    assert settings.router_url_port == 80


def test_the_router_fronts_the_controller_and_the_builder(chart, monkeypatch):
    objects = chart.render({})
    settings = settings_of(chart, "deis-router", objects, monkeypatch)
    assert isinstance(settings, RouterSettings)
    upstreams = _model_dump(settings)
    assert upstreams["controller_upstream"] == "deis-controller.deis.svc.cluster.local:8000"
    assert upstreams["builder_upstream"] == "deis-builder.deis.svc.cluster.local:2222"
    assert settings.http_port == 8080
    assert settings.https_port == 8443
    assert settings.worker_shutdown_timeout == 900  # a push outlives a reload
    off = chart.render({"router": {"frontsPlatform": False}})
    settings = settings_of(chart, "deis-router", off, monkeypatch)
    assert _model_dump(settings)["controller_upstream"] is None


def test_the_routers_serve_the_platform_name_over_https_with_the_secret_given(chart, monkeypatch):
    default = chart.render({})
    router = chart.find(default, "Deployment", "deis-router")
    assert "DEIS_PLATFORM_CERT_FILE" not in chart.container_env(router, default)  # off
    values = {"router": {"platformTLS": {"secretName": "deis-platform-tls"}}}
    objects = chart.render(values)
    settings = settings_of(chart, "deis-router", objects, monkeypatch)
    assert isinstance(settings, RouterSettings)
    assert str(settings.platform_cert_file) == "/etc/deis/platform-tls/tls.crt"
    assert str(settings.platform_key_file) == "/etc/deis/platform-tls/tls.key"
    assert settings.platform_https_enforced is False
    pod = chart.pod_spec(chart.find(objects, "Deployment", "deis-router"))
    volume = next(v for v in pod["volumes"] if v["name"] == "platform-tls")
    assert volume["secret"]["secretName"] == "deis-platform-tls"
    [mounted] = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "platform-tls"]
    assert mounted == {
        "name": "platform-tls",
        "mountPath": "/etc/deis/platform-tls",
        "readOnly": True,
    }  # no subPath: a renewed Secret reaches the pod
    assert "deis register https://deis.deis.example.com" in chart.notes(
        {**values, "platformDomain": "deis.example.com"}
    )
    enforced = {"router": {"platformTLS": {"secretName": "s", "httpsEnforced": True}}}
    settings = settings_of(chart, "deis-router", chart.render(enforced), monkeypatch)
    assert isinstance(settings, RouterSettings)
    assert settings.platform_https_enforced is True
    alone = {"router": {"frontsPlatform": False, "platformTLS": {"secretName": "s"}}}
    with pytest.raises(HelmError, match=r"only with router\.frontsPlatform"):
        chart.render(alone)


def test_the_logger_takes_the_collectors_lines(chart, monkeypatch):
    objects = chart.render({"logger": {"ingestPort": 9999, "persistence": {"size": "1Gi"}}})
    settings = settings_of(chart, "deis-logger", objects, monkeypatch)
    dumped = _model_dump(settings)
    assert dumped["ingest_host"] == "0.0.0.0"
    assert dumped["ingest_port"] == 9999
    token = chart.secret_values(objects)[("deis-credentials", "logger-ingest-token")]
    assert dumped["ingest_token"] == token
    conf = chart.find(objects, "ConfigMap", "deis-fluent-bit")["data"]["fluent-bit.conf"]
    assert "Host              deis-logger.deis.svc.cluster.local" in conf
    assert "Port              9999" in conf
    assert "Header            Authorization Bearer ${INGEST_TOKEN}" in conf
    collector = chart.find(objects, "DaemonSet", "deis-fluent-bit")
    env = chart.container_env(collector, objects)
    assert env["INGEST_TOKEN"] == token


def _model_dump(settings: BaseModel) -> dict[str, object]:
    dumped = settings.model_dump()
    return {
        k: (v.get_secret_value() if hasattr(v, "get_secret_value") else v)
        for k, v in dumped.items()
    }


def _nats_user(name: str) -> str:
    return name.removeprefix("deis-")


def _brought(chart, objects):
    """Values of the Secrets an operator brings, as the scenarios name them."""
    given = {}
    for workload in chart.workloads(objects):
        for container in chart.pod_spec(workload)["containers"]:
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref["name"] != "deis-credentials":
                    given[(ref["name"], ref["key"])] = f"brought-{ref['key']}"
    return given


def test_nothing_unknown_hides_in_the_chart_env(chart):
    # DEIS_ variables are read by the services alone; the others are the images' own.
    objects = chart.render({})
    for workload in chart.workloads(objects):
        env = chart.pod_spec(workload)["containers"][0].get("env", [])
        names = [item["name"] for item in env]
        assert len(names) == len(set(names)), f"{workload['metadata']['name']}: {names}"
    assert json.dumps(objects)  # plain data, nothing Helm left unrendered
