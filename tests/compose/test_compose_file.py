"""docker-compose.yml and its hot-reload override, read without docker.

Both validate against the Compose specification's JSON schema (vendored in `schema/`, see its
README), and the main file has what issue 17 asks: the eight services by name, the images, the
host ports `deisctl up` uses, dependencies gated on health, a named volume for every piece of
state, credentials only from `.env` (each service its own), and the sandboxing services' least
confinement lifted. Where a compose v2 is installed, `compose config` accepts them too.
"""

import json
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema  # type: ignore[import-untyped]  # ships no type information
import pytest
import yaml  # type: ignore[import-untyped]  # ships no type information

from deis_shared.bus import permissions
from deisctl import composing, provisioning

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
HACK_FILE = ROOT / "docker-compose.hack.yml"
SCHEMA = Path(__file__).parent / "schema" / "compose-spec.json"

SERVICES = {"controller", "builder", "scheduler", "router", "logger", "postgres", "nats", "s3"}
"""The platform's services, named as issue 17 asks."""
NETWORK_HOLDER = "apps-network"
"""The one more: the network namespace the scheduler (with its apps) and the router share."""
IMAGES = {
    NETWORK_HOLDER: "deis/platform:dev",
    "controller": "deis/platform:dev",
    "scheduler": "deis/platform:dev",
    "logger": "deis/platform:dev",
    "router": "deis/router:dev",
    "builder": "deis/builder:dev",
    "postgres": "deis/postgres:dev",
    "nats": "deis/nats:dev",
    "s3": "deis/s3:dev",
}
COMMANDS = {"controller": "deis-controller", "scheduler": "deis-scheduler", "logger": "deis-logger"}
NATS_USERS = {"controller", "builder", "scheduler", "logger", "router"}
"""The services that connect to NATS, each as the user of its own name."""
SANDBOXING = {"builder", "scheduler"}
SANDBOX_OPTIONS = {"seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"}


_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def load(path: Path) -> dict[str, Any]:
    """A compose file as YAML (anchors and merge keys resolved, `${...}` left as written)."""
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def interpolate(value: str) -> str:
    """`value` as compose fills it from an empty environment: `${NAME:-default}` is the
    default, and a variable without one (`${NAME:?error}`, `${NAME}`) becomes `<NAME>`."""

    def fill(match: re.Match[str]) -> str:
        return str(match["arg"]) if match["op"] in (":-", "-") else f"<{match['name']}>"

    return _VARIABLE.sub(fill, value)


def variables(value: str) -> list[str]:
    """The names of the variables `value` refers to."""
    return [match["name"] for match in _VARIABLE.finditer(value)]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load(COMPOSE_FILE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment as a mapping, so that tests and people read it"
    return {key: str(value) for key, value in env.items()}


def published(service: dict[str, Any]) -> dict[int, str]:
    """Container port -> `host address:host port`, with the defaults filled in."""
    ports = {}
    for spec in service.get("ports", []):
        address, host, container = interpolate(spec).rsplit(":", 2)
        ports[int(container)] = f"{address}:{host}"
    return ports


@pytest.mark.parametrize("path", [COMPOSE_FILE, HACK_FILE], ids=lambda p: p.name)
def test_the_compose_files_are_valid_by_the_compose_specification(path):
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    problems = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(load(path))]
    assert problems == []


def test_the_schema_refuses_what_compose_refuses(compose):
    schema = json.loads(SCHEMA.read_text())
    broken = json.loads(json.dumps(compose))
    broken["services"]["controller"]["ports"] = "8000"
    broken["services"]["controller"]["depends_on"]["nats"]["condition"] = "service_ready"
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(broken))
    assert len(errors) >= 2


def test_the_services_are_the_platforms_with_their_images_and_builds(services):
    assert set(services) == SERVICES | {NETWORK_HOLDER}
    for name, service in services.items():
        assert service["image"] == IMAGES[name], name
        build = service["build"]
        image = IMAGES[name].split("/")[1].split(":")[0]
        assert build["context"] == ".", name
        assert build["dockerfile"] == f"deploy/images/{image}/Dockerfile", name
        assert interpolate(build["args"]["BASE"]) == "debian:bookworm-slim", name
        assert variables(build["args"]["BASE"]) == ["DEIS_BASE_IMAGE"], name
    for name, command in COMMANDS.items():
        assert services[name]["command"] == [command]


def test_the_host_ports_are_deisctls_on_the_loopback_by_default(services):
    assert published(services["controller"]) == {8000: "127.0.0.1:8000"}
    assert published(services["builder"]) == {2222: "127.0.0.1:2222"}
    # The router's ports are published by the network namespace it lives in.
    assert "ports" not in services["router"]
    holder = services[NETWORK_HOLDER]
    assert published(holder) == {8080: "127.0.0.1:8080", 8443: "127.0.0.1:8443"}
    router = environment(services["router"])
    assert (router["DEIS_HTTP_PORT"], router["DEIS_HTTPS_PORT"]) == ("8080", "8443")
    assert environment(services["controller"])["DEIS_API_HOST"] == "0.0.0.0"
    assert environment(services["builder"])["DEIS_SSH_PORT"] == "2222"
    # A push prints the app's URL with the router's port as the host publishes it.
    assert interpolate(environment(services["builder"])["DEIS_ROUTER_URL_PORT"]) == "8080"
    ports = {"DEIS_API_PORT", "DEIS_SSH_PORT", "DEIS_HTTP_PORT", "DEIS_HTTPS_PORT"}
    for name in ("controller", "builder", NETWORK_HOLDER):
        for spec in services[name]["ports"]:
            assert set(variables(spec)) - {"DEIS_PUBLISH_ADDRESS"} <= ports


def test_apps_listen_where_the_router_reaches_them(services):
    scheduler = environment(services["scheduler"])
    assert scheduler["DEIS_PROCESS_HOST"] == "127.0.0.1"
    for name in ("scheduler", "router"):
        assert services[name]["network_mode"] == f"service:{NETWORK_HOLDER}", name
        started = {"condition": "service_started"}
        assert services[name]["depends_on"][NETWORK_HOLDER] == started, name
    holder = services[NETWORK_HOLDER]
    assert holder["entrypoint"][-2:] == ["sleep", "infinity"]
    assert holder["restart"] == "unless-stopped"
    assert "network_mode" not in holder


def test_every_service_is_health_checked_and_waits_for_healthy_dependencies(services):
    for name in SERVICES:
        service = services[name]
        assert service["healthcheck"]["test"][0] == "CMD", name
        assert service.get("restart") == "unless-stopped", name
        for dependency, how in service.get("depends_on", {}).items():
            if dependency != NETWORK_HOLDER:  # a sleep: running is all there is to it
                assert how["condition"] == "service_healthy", f"{name} -> {dependency}"
    needs = {
        "controller": {"postgres", "nats"},
        "builder": {"postgres", "nats", "s3"},
        "scheduler": {NETWORK_HOLDER, "nats", "s3"},
        "logger": {"nats", "s3"},
        "router": {NETWORK_HOLDER, "nats"},
    }
    for name, dependencies in needs.items():
        assert set(services[name]["depends_on"]) == dependencies, name
    for name in ("postgres", "nats", "s3"):
        assert "depends_on" not in services[name]


def test_each_health_port_is_the_services_own(services):
    ports = {
        name: environment(service)["DEIS_HEALTH_PORT"]
        for name, service in services.items()
        if "DEIS_HEALTH_PORT" in environment(service)
    }
    assert set(ports) == NATS_USERS
    # The router and the scheduler share a network namespace; the others' ports differ too.
    assert len(set(ports.values())) == len(ports)
    for name in ports:
        assert environment(services[name])["DEIS_HEALTH_HOST"] == "127.0.0.1"
        # The images' check asks /readyz on the DEIS_HEALTH_PORT of its container's environment.
        assert services[name]["healthcheck"]["test"] == ["CMD", "deis-healthcheck"], name


def test_all_state_lives_in_named_volumes(compose, services):
    declared = set(compose["volumes"])
    sources, targets = set(), {}
    for name, service in services.items():
        for spec in service.get("volumes", []):
            source, target = spec.split(":")[:2]
            if not source.startswith((".", "/")):
                sources.add(source)
                targets[name] = target
    assert sources == declared
    assert len(declared) == len(targets)  # one volume each
    assert set(targets) == {"postgres", "nats", "s3", "builder", "scheduler", "logger"}
    for name in ("builder", "scheduler", "logger"):
        assert environment(services[name])["DEIS_DATA_DIR"] == targets[name], name
    assert targets["nats"] == "/data"  # the nats image's JetStream store
    assert targets["postgres"] == "/var/lib/postgresql/data"  # the postgres image's PGDATA above
    assert targets["s3"] == "/data"  # the s3 image's S3_DIRECTORY: buckets and objects as files


def test_the_s3_server_takes_the_services_key_pair_and_makes_their_bucket(services):
    s3 = environment(services["s3"])
    assert set(s3) == {"S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_BUCKETS"}
    assert variables(s3["S3_ACCESS_KEY_ID"]) == [composing.S3_ACCESS_KEY]
    assert variables(s3["S3_SECRET_ACCESS_KEY"]) == [composing.S3_SECRET_KEY]
    for name in ("builder", "scheduler", "logger"):
        service = environment(services[name])
        assert interpolate(service["DEIS_S3_ENDPOINT_URL"]) == "http://s3:9000", name
        assert service["DEIS_S3_BUCKET"] == s3["S3_BUCKETS"], name
        assert variables(service["DEIS_S3_ACCESS_KEY_ID"]) == [composing.S3_ACCESS_KEY], name
        assert variables(service["DEIS_S3_SECRET_ACCESS_KEY"]) == [composing.S3_SECRET_KEY], name


def test_credentials_come_from_env_and_each_service_gets_its_own(services):
    secrets = set(composing.secret_names())
    for name, service in services.items():
        for key, value in environment(service).items():
            if any(word in key for word in ("PASSWORD", "SECRET", "_KEY", "_URL")):
                literal = interpolate(value)
                assert not any(word in literal for word in ("changeme", "password", "secret")), (
                    f"{name}: {key}"
                )
            for variable in variables(value):
                if variable in secrets:
                    assert f"${{{variable}:?" in value, f"{name}: {key} must refuse an unset one"
    for user in NATS_USERS:
        url = urlsplit(interpolate(environment(services[user])["DEIS_NATS_URL"]))
        assert (url.username, url.password, url.hostname, url.port) == (
            user,
            f"<{composing.nats_password(user)}>",
            "nats",
            4222,
        )
        others = secrets - {composing.nats_password(user)}
        used = {v for value in environment(services[user]).values() for v in variables(value)}
        assert not {composing.nats_password(other) for other in NATS_USERS} & others & used
    for service in provisioning.SERVICE_SCHEMAS:
        url = urlsplit(interpolate(environment(services[service])["DEIS_DATABASE_URL"]))
        assert (url.username, url.password, url.hostname, url.path) == (
            provisioning.role(service),
            f"<{composing.database_password(service)}>",
            "postgres",
            f"/{provisioning.DATABASE}",
        )
    for name in set(services) - set(provisioning.SERVICE_SCHEMAS) - {"postgres"}:
        assert "DEIS_DATABASE_URL" not in environment(services[name]), name
    nats = environment(services["nats"])
    assert set(nats) == {composing.nats_password(user) for user in permissions.BY_SERVICE}
    postgres = environment(services["postgres"])
    assert set(postgres) == {
        "POSTGRES_PASSWORD",
        *(composing.database_password(service) for service in provisioning.SERVICE_SCHEMAS),
    }
    assert variables(postgres["POSTGRES_PASSWORD"]) == [composing.SUPERUSER_PASSWORD]


def test_the_generated_configuration_is_mounted(services):
    nats = services["nats"]
    assert f"./{composing.NATS_CONFIG}:/etc/nats/nats.conf:ro" in nats["volumes"]
    initdb = Path(composing.INITDB_SCRIPT).parent
    assert f"./{initdb}:/docker-entrypoint-initdb.d:ro" in services["postgres"]["volumes"]


def test_only_the_sandboxing_services_are_less_confined_and_none_is_privileged(services):
    for name, service in services.items():
        assert not service.get("privileged"), name
        assert not service.get("cap_add"), name
        expected = SANDBOX_OPTIONS if name in SANDBOXING else set()
        assert set(service.get("security_opt", [])) == expected, name


def test_the_hack_override_runs_each_service_from_this_checkout(services):
    hack = load(HACK_FILE)["services"]
    assert set(hack) == NATS_USERS
    for name, service in hack.items():
        mounts = {spec.split(":")[1]: spec.split(":")[0] for spec in service["volumes"]}
        paths = environment(service)["PYTHONPATH"].split(":")
        assert paths[0] == "/src/shared/src", name
        for path in paths:
            source = ROOT / mounts[path]
            assert source.is_dir(), f"{name}: {path} mounts {source}"
        watched = {watch["path"] for watch in service["develop"]["watch"]}
        assert {mounts[path] for path in paths} <= watched, name
        assert services[name]["image"]  # an override of a service of the main file


@pytest.mark.timeout(60)  # `docker compose config` in a subprocess: the 5 s unit limit met it
def test_compose_accepts_the_files_with_a_generated_env(tmp_path, compose_cli):
    composing.write(tmp_path)
    for files in ([COMPOSE_FILE], [COMPOSE_FILE, HACK_FILE]):
        done = subprocess.run(
            [
                *compose_cli,
                "--project-directory", str(ROOT),
                "--env-file", str(tmp_path / composing.ENV_FILE),
                *(arg for path in files for arg in ("-f", str(path))),
                "config", "--quiet",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr


def test_compose_refuses_to_start_without_the_credentials(tmp_path, compose_cli):
    (tmp_path / "empty.env").write_text("")
    done = subprocess.run(
        [
            *compose_cli,
            "--project-directory", str(ROOT),
            "--env-file", str(tmp_path / "empty.env"),
            "-f", str(COMPOSE_FILE),
            "config", "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "deisctl compose-env" in done.stderr
