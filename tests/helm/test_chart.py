"""The chart lints in strict mode and renders valid Kubernetes for 1.29 and 1.37 in every
scenario; what it renders keeps the issue's promises (planes, pod security, budgets, upgrades)."""

import helm_python as helm
import kubernetes_validate
import pytest

PLATFORM_COMPONENTS = ("controller", "builder", "scheduler", "logger", "router", "nats")


@pytest.mark.timeout(60)  # Helm's own engine, in a subprocess: the first call starts it cold
@pytest.mark.parametrize("kube_version", ["v1.29.0", "v1.37.0"])
def test_the_chart_lints_clean_in_strict_mode(chart, scenario, kube_version):
    report = helm.lint(
        chart.path, chart.scenarios[scenario], strict=True, kube_version=kube_version
    )
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_every_rendered_object_is_valid_kubernetes_in_strict_mode(chart, scenario):
    objects = chart.render(chart.scenarios[scenario])
    assert len(objects) >= 15
    for version in chart.kube_versions:
        for manifest in objects:
            try:
                kubernetes_validate.validate(manifest, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                name = f"{manifest['kind']}/{manifest['metadata']['name']}"
                raise AssertionError(f"{name} is invalid for {version}: {exc}") from exc


def test_a_second_upgrade_with_other_values_renders_the_same_object_names(chart):
    def names(objects):
        return {(o["kind"], o["metadata"]["name"]) for o in objects}

    installed = chart.render({})
    changed = {
        "router": {"replicas": 4, "logLevel": "DEBUG"},
        "controller": {"replicas": 3, "registrationMode": "admin_only"},
        "images": {"tag": "v2"},
        "nats": {"persistence": {"size": "20Gi"}},
    }
    assert names(chart.render(changed, upgrade=True)) == names(installed)
    assert names(chart.render(changed, upgrade=True)) == names(chart.render({}, upgrade=True))


def test_generated_credentials_are_kept_by_upgrades_and_uninstalls(chart):
    template = (chart.path / "templates" / "credentials.yaml").read_text()
    # An upgrade reads the Secret the install made (offline, `lookup` finds nothing, so this
    # is as far as rendering can show it) and reuses each value it holds.
    assert 'lookup "v1" "Secret" .Release.Namespace $name' in template
    assert 'index $old . | default (printf "%s%s" (randAlpha 1) (randAlphaNum 39)' in template
    assert 'index $old "builder-host-key" | default (genPrivateKey "ed25519"' in template
    objects = chart.render({})
    secret = chart.find(objects, "Secret", "deis-credentials")
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    values = chart.secret_values(objects)
    keys = {key for (name, key) in values if name == "deis-credentials"}
    assert {
        "postgres-superuser-password",
        "postgres-controller-password",
        "postgres-builder-password",
        "nats-controller-password",
        "nats-router-password",
        "builder-host-key",
        "logger-ingest-token",
    } <= keys
    passwords = [v for (name, key), v in values.items() if key.endswith("password")]
    assert all(len(p) == 40 for p in passwords)
    assert all(p[0].isalpha() for p in passwords), "a leading digit breaks nats-server"
    assert len(set(passwords)) == len(passwords), "every credential is its own"
    assert values[("deis-credentials", "builder-host-key")].startswith("-----BEGIN PRIVATE KEY")
    assert chart.secret_values(chart.render({})) != values, "fresh at each install"
    builder = chart.find(objects, "PersistentVolumeClaim", "deis-builder")
    assert builder["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_an_existing_credentials_secret_replaces_the_generated_one(chart):
    objects = chart.render(chart.scenarios["isolated"])
    assert not [o for o in objects if o["kind"] == "Secret"]
    refs = set()
    for workload in chart.workloads(objects):
        for item in chart.pod_spec(workload)["containers"][0].get("env", []):
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                refs.add(ref["name"])
    assert refs == {"my-deis-credentials"}


def test_platform_pods_never_run_as_root_and_ask_for_resources(chart, scenario):
    for workload in chart.workloads(chart.render(chart.scenarios[scenario])):
        name = workload["metadata"]["name"]
        spec = chart.pod_spec(workload)
        for container in spec["containers"]:
            assert container["resources"]["requests"], f"{name}: no resource requests"
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"]["drop"] == ["ALL"], name
        if name == "deis-fluent-bit":
            continue  # reads the node's log files, root's; checked below
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] > 0, name
        token = spec.get("automountServiceAccountToken")
        assert token is (name == "deis-scheduler"), f"{name}: service account token {token}"


def test_the_log_collector_is_root_only_to_read_and_adds_nothing_else(chart):
    collector = chart.find(chart.render({}), "DaemonSet", "deis-fluent-bit")
    container = chart.pod_spec(collector)["containers"][0]
    assert container["securityContext"]["capabilities"]["add"] == ["DAC_READ_SEARCH"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/var/log"]["readOnly"] is True


def test_routers_and_nats_have_disruption_budgets(chart, scenario):
    objects = chart.render(chart.scenarios[scenario])
    budgets = {o["metadata"]["name"] for o in objects if o["kind"] == "PodDisruptionBudget"}
    assert "deis-router" in budgets
    assert ("deis-nats" in budgets) == (
        chart.merged(chart.scenarios[scenario])["nats"]["replicas"] > 1
    )


def test_defaults_run_two_routers_and_a_three_server_nats_cluster(chart):
    objects = chart.render({})
    assert chart.find(objects, "Deployment", "deis-router")["spec"]["replicas"] == 2
    nats = chart.find(objects, "StatefulSet", "deis-nats")
    assert nats["spec"]["replicas"] == 3
    assert nats["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
    conf = chart.find(objects, "ConfigMap", "deis-nats-config")["data"]["nats.conf"]
    assert "sync_interval: always" in conf
    args = chart.pod_spec(nats)["containers"][0]["args"]
    routes = args[args.index("--routes") + 1].split(",")
    assert len(routes) == 3
    service = chart.find(objects, "Service", "deis-router")
    assert service["spec"]["type"] == "LoadBalancer"
    assert {p["port"] for p in service["spec"]["ports"]} == {80, 443, 2222}


def test_ha_values_scale_what_they_name(chart):
    objects = chart.render(chart.scenarios["ha"])
    assert chart.find(objects, "Deployment", "deis-router")["spec"]["replicas"] == 3
    assert chart.find(objects, "Deployment", "deis-controller")["spec"]["replicas"] == 2
    env = chart.container_env(chart.find(objects, "Deployment", "deis-controller"), objects)
    assert env["DEIS_JETSTREAM_REPLICAS"] == "3"


def test_isolated_planes_place_each_plane_on_its_own_nodes(chart):
    values = chart.scenarios["isolated"]
    objects = chart.render(values)
    planes = values["planes"]
    expected = {
        "deis-controller": "control",
        "deis-builder": "control",
        "deis-scheduler": "control",
        "deis-logger": "control",
        "deis-nats": "control",
        "deis-postgres": "control",
        "deis-s3": "control",
        "deis-router": "router",
        "deis-fluent-bit": "data",
    }
    for workload in chart.workloads(objects):
        name = workload["metadata"]["name"]
        spec = chart.pod_spec(workload)
        plane = planes[expected[name]]
        assert spec["nodeSelector"] == plane["nodeSelector"], name
        assert spec["tolerations"] == plane["tolerations"], name
    assert chart.find(objects, "DaemonSet", "deis-router")
    # Apps' pods go to the data plane through the scheduler's settings.
    scheduler = chart.find(objects, "Deployment", "deis-scheduler")
    env = chart.container_env(scheduler, objects, given=_brought_credentials(chart, objects))
    import json

    assert json.loads(env["DEIS_KUBE_APP_NODE_SELECTOR"]) == planes["data"]["nodeSelector"]
    assert json.loads(env["DEIS_KUBE_APP_TOLERATIONS"]) == planes["data"]["tolerations"]
    ingress = chart.find(objects, "Ingress", "deis-controller")
    assert ingress["spec"]["tls"][0]["secretName"] == "deis-tls"


def test_the_scheduler_lets_into_apps_exactly_the_pods_the_chart_labels(chart):
    import json

    objects = chart.render({})
    env = chart.container_env(chart.find(objects, "Deployment", "deis-scheduler"), objects)
    router = chart.find(objects, "Deployment", "deis-router")
    store = chart.find(objects, "StatefulSet", "deis-s3")
    router_labels = router["spec"]["template"]["metadata"]["labels"]
    store_labels = store["spec"]["template"]["metadata"]["labels"]
    assert json.loads(env["DEIS_KUBE_ROUTER_LABELS"]).items() <= router_labels.items()
    assert json.loads(env["DEIS_KUBE_OBJECT_STORE_LABELS"]).items() <= store_labels.items()
    assert env["DEIS_KUBE_PLATFORM_NAMESPACE"] == chart.namespace
    # No other pod carries the router's labels (it would be let into every app).
    for workload in chart.workloads(objects):
        if workload is not router:
            labels = workload["spec"]["template"]["metadata"]["labels"]
            assert not json.loads(env["DEIS_KUBE_ROUTER_LABELS"]).items() <= labels.items()


def test_notes_give_the_first_commands(chart):
    text = chart.notes()
    assert "deis register http://deis.deis.example.com" in text
    assert "git push deis main" in text
    assert "curl http://myapp.deis.example.com" in text
    ingress = chart.notes(chart.scenarios["isolated"])
    assert "deis register https://deis.example.com" in ingress or "deis register http" in ingress


def _brought_credentials(chart, objects):
    """Values for the Secret an operator brings (`credentials.existingSecret`)."""
    keys = set()
    for workload in chart.workloads(objects):
        for container in chart.pod_spec(workload)["containers"]:
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    keys.add((ref["name"], ref["key"]))
    return {key: f"brought-{key[1]}" for key in keys}
