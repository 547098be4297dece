"""The container images of deploy/images, built by `scripts/build-images` and run for real.

Marked `docker` and skipped, with the reason, where no dockerd answers. The module builds the
images once (a warm build, with nothing changed, takes seconds; a cold one minutes), then checks
what every image promises (a non-root user, a HEALTHCHECK, no compiler, its programs start) and
runs the ones that can run alone: PostgreSQL with an init hook, NATS with JetStream and a config
file, the S3 server (objects kept across a kill, even one in the middle of a write; only its key
pair, with valid signatures, accepted), the router agent with nginx, and the slug runner serving
a Python slug fetched from the session's moto S3 server (reached over the host's network, as a
pod reaches its object store).
"""

import asyncio
import contextlib
import io
import json
import os
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import asyncpg
import botocore.exceptions
import httpx
import nats
import pytest
from aiobotocore.session import get_session
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from deis_shared.objectstore import errors
from deis_shared.objectstore.s3 import S3Store
from deis_testing import S3Server, free_port, unique_name

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ("platform", "router", "builder", "slugrunner", "postgres", "nats", "s3")
TAG = os.environ.get("DEIS_IMAGE_TAG", "dev")
BUILD_TIMEOUT = 1800.0
HEALTHY_TIMEOUT = 90.0

pytestmark = [pytest.mark.docker, pytest.mark.timeout(BUILD_TIMEOUT + 300)]


def image(name: str) -> str:
    return f"deis/{name}:{TAG}"


def docker(*args: str, timeout: float = 120.0, check: bool = True) -> str:
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {done.returncode}\n{done.stderr}")
    return done.stdout


class Containers:
    """Containers started by a test, removed at its end; logs shown when a wait fails."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def run(self, *args: str) -> str:
        container = docker("run", "--detach", "--name", unique_name("deis-test-"), *args).strip()
        self.ids.append(container)
        return container

    def healthy(self, container: str, *, timeout: float = HEALTHY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = json.loads(docker("inspect", "--format", "{{json .State}}", container))
            if state.get("Health", {}).get("Status") == "healthy":
                return
            if not state["Running"]:
                break
            time.sleep(0.5)
        logs = docker("logs", "--tail", "40", container, check=False)
        raise AssertionError(f"{container[:12]} is not healthy: {state}\n{logs}")

    def port(self, container: str, port: int) -> int:
        return int(docker("port", container, f"{port}/tcp").splitlines()[0].rsplit(":", 1)[1])

    def remove_all(self) -> None:
        for container in self.ids:
            docker("rm", "--force", "--volumes", container, check=False)


@pytest.fixture
def containers(images: None) -> Iterator[Containers]:
    started = Containers()
    try:
        yield started
    finally:
        started.remove_all()


@pytest.mark.parametrize("name", IMAGES)
def test_every_image_runs_as_a_non_root_user_with_a_healthcheck(images: None, name: str) -> None:
    config = json.loads(docker("image", "inspect", "--format", "{{json .Config}}", image(name)))
    assert config["User"] not in ("", "root", "0", "0:0")
    assert config["Healthcheck"]["Test"][0] in ("CMD", "CMD-SHELL")
    uid = docker("run", "--rm", "--entrypoint", "id", image(name), "-u").strip()
    assert uid != "0"


@pytest.mark.parametrize("name", IMAGES)
def test_no_image_carries_a_compiler(images: None, name: str) -> None:
    found = docker(
        "run", "--rm", "--entrypoint", "sh", image(name), "-c",
        "for c in cc gcc c++ g++ clang make; do command -v $c; done; true",
    )  # fmt: skip
    assert found == ""


PROGRAMS = {
    "platform": [
        "test -x /opt/deis/bin/deis-controller && test -x /opt/deis/bin/deis-logger",
        "python -c 'import deis_controller.main, deis_scheduler.main, deis_logger.main'",
        "deis-scheduler --help",
        "/usr/bin/python3 -m pip --version && node --version && npm --version",
        "bwrap --version && prlimit --version && tar --version",
        "deis-healthcheck; test $? = 1",
    ],
    "router": [
        "test -x /opt/deis/bin/deis-router-agent",
        "python -c 'import deis_router_agent.main'",
        "nginx -v",
    ],
    "builder": [
        "test -x /opt/deis/bin/deis-builder",
        "python -c 'import deis_builder.main'",
        "git --version && node --version && npm --version && bwrap --version",
        "/usr/bin/python3 -m pip --version && /usr/bin/python3 -m venv --help",
    ],
    "slugrunner": [
        "/opt/deis/bin/deis-slugrunner --help",
        "/usr/bin/python3 --version && node --version && npm --version",
    ],
    "postgres": ["postgres --version && initdb --version && pg_isready --version"],
    "nats": ["nats-server --version"],
    "s3": [
        "node --version && ! command -v npm",
        "node -p \"require('/opt/s3/node_modules/s3rver/package.json').version\" | grep -qx 3.7.1",
        "node --check /opt/s3/serve.js && node --check /opt/s3/store.js",
    ],
}


@pytest.mark.parametrize(
    ("name", "command"), [(name, command) for name, cmds in PROGRAMS.items() for command in cmds]
)
def test_the_images_programs_start(images: None, name: str, command: str) -> None:
    docker("run", "--rm", "--entrypoint", "bash", image(name), "-c", command)


def test_postgres_initialises_once_runs_its_hooks_and_takes_scram_logins(
    containers: Containers, tmp_path: Path
) -> None:
    hooks = tmp_path / "initdb.d"
    hooks.mkdir()
    (hooks / "10-roles.sql").write_text(
        "CREATE ROLE deis_controller LOGIN PASSWORD 'controller-pw';\n"
    )
    (hooks / "20-database.sh").write_text(
        'psql -v ON_ERROR_STOP=1 -c "CREATE DATABASE $HOOKED_DB OWNER deis_controller"\n'
    )
    (hooks / "README").write_text("ignored\n")
    for path in [hooks, *hooks.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    container = containers.run(
        "--publish", "127.0.0.1::5432",
        "--env", "POSTGRES_PASSWORD=super-pw",
        "--env", "HOOKED_DB=hooked",
        "--volume", f"{hooks}:/docker-entrypoint-initdb.d:ro",
        image("postgres"),
    )  # fmt: skip
    containers.healthy(container)
    port = containers.port(container, 5432)

    async def check() -> None:
        connection = await asyncpg.connect(
            host="127.0.0.1", port=port, user="deis_controller", password="controller-pw",
            database="hooked",
        )  # fmt: skip
        try:
            assert await connection.fetchval("SELECT current_user") == "deis_controller"
            method = await connection.fetchval("SHOW password_encryption")
            assert method == "scram-sha-256"
        finally:
            await connection.close()
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(
                host="127.0.0.1", port=port, user="postgres", password="wrong", database="postgres"
            )

    asyncio.run(check())
    # A restart finds the cluster: the hooks do not run again (the database would exist).
    docker("restart", container)
    containers.healthy(container)
    logs = subprocess.run(
        ["docker", "logs", container], capture_output=True, text=True, check=True
    ).stderr
    assert logs.count("initialising a cluster") == 1
    assert logs.count("running /docker-entrypoint-initdb.d/20-database.sh") == 1
    assert "ignoring /docker-entrypoint-initdb.d/README" in logs


def test_postgres_refuses_to_start_without_a_password(images: None) -> None:
    done = subprocess.run(
        ["docker", "run", "--rm", image("postgres")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "no default password" in done.stderr


def test_nats_runs_jetstream_from_its_config_file(containers: Containers, tmp_path: Path) -> None:
    config = tmp_path / "nats.conf"
    config.write_text(
        'server_name: "deis-images"\nauthorization { user: "deis", password: "nats-pw" }\n'
    )
    config.chmod(0o644)
    container = containers.run(
        "--publish", "127.0.0.1::4222",
        "--publish", "127.0.0.1::8222",
        "--volume", f"{config}:/etc/nats/nats.conf:ro",
        image("nats"),
    )  # fmt: skip
    containers.healthy(container)
    port = containers.port(container, 4222)
    varz = httpx.get(f"http://127.0.0.1:{containers.port(container, 8222)}/varz").json()
    assert (varz["server_name"], varz["auth_required"]) == ("deis-images", True)
    assert varz["jetstream"]["config"]["store_dir"] == "/data/jetstream"

    async def check() -> None:
        client = await nats.connect(f"nats://deis:nats-pw@127.0.0.1:{port}")
        try:
            stream = client.jetstream()
            await stream.add_stream(name="IMAGES", subjects=["images.>"])
            await stream.publish("images.test", b"stored")
            message = await stream.get_last_msg("IMAGES", "images.test")
            assert message.data == b"stored"
        finally:
            await client.close()

    asyncio.run(check())
    assert "IMAGES" in docker("exec", container, "ls", "-R", "/data/jetstream")


S3_KEYS = ("deis-images-key", "deis-images-secret-0123456789")


def s3_server(containers: Containers, *, buckets: str = "") -> tuple[str, int]:
    """A healthy deis/s3 container with the test key pair (and `buckets` made at start): its
    name and published port."""
    buckets_env = ["--env", f"S3_BUCKETS={buckets}"] if buckets else []
    container = containers.run(
        "--publish", "127.0.0.1::9000",
        "--health-interval", "1s",  # the image's check, asked more often than its 5 s
        "--env", f"S3_ACCESS_KEY_ID={S3_KEYS[0]}",
        "--env", f"S3_SECRET_ACCESS_KEY={S3_KEYS[1]}",
        *buckets_env,
        image("s3"),
    )  # fmt: skip
    containers.healthy(container)
    return container, containers.port(container, 9000)


def s3_store(port: int, *, secret: str = S3_KEYS[1], bucket: str = "deis") -> S3Store:
    return S3Store(
        bucket=bucket, endpoint_url=f"http://127.0.0.1:{port}",
        access_key_id=S3_KEYS[0], secret_access_key=secret,
        part_size=5 * 1024 * 1024, max_attempts=1,
    )  # fmt: skip


def signed_put(port: int, key: str, body: Iterable[bytes], size: int) -> httpx.Response:
    """PUT `size` bytes of `body` under `key` of the `deis` bucket, with UNSIGNED-PAYLOAD."""
    url = f"http://127.0.0.1:{port}/deis/{key}"
    request = AWSRequest(method="PUT", url=url)
    UnsignedPayloadAuth(Credentials(*S3_KEYS), "s3", "us-east-1").add_auth(request)
    headers = {**dict(request.headers.items()), "Content-Length": str(size)}
    return httpx.put(url, headers=headers, content=body, timeout=30)


class UnsignedPayloadAuth(S3SigV4Auth):
    """SigV4 with UNSIGNED-PAYLOAD, so that a body can be streamed as it comes."""

    def _should_sha256_sign_payload(self, request: AWSRequest) -> bool:
        return False


def test_the_s3_server_keeps_objects_on_its_volume_across_a_kill(
    containers: Containers, tmp_path: Path
) -> None:
    container, port = s3_server(containers, buckets="deis")
    big = tmp_path / "slug.tar.gz"
    big.write_bytes(os.urandom(11 * 1024 * 1024))  # three parts of a multipart upload

    async def store_some() -> None:
        async with s3_store(port) as store:
            await store.put_bytes(key="slugs/app/abc1234.tar.gz", data=b"slug")
            await store.put_bytes(key="slugs/app-2/def5678.tar.gz", data=b"other")
            await store.put_bytes(key="logs/app/gone", data=b"x")
            await store.delete("logs/app/gone")
            await store.put_file(key="sources/app/big.tar.gz", path=big)

    asyncio.run(store_some())
    docker("kill", container)
    docker("start", container)
    containers.healthy(container)
    port = containers.port(container, 9000)

    async def read_back() -> None:
        async with s3_store(port) as store:
            assert await store.get_bytes("slugs/app/abc1234.tar.gz") == b"slug"
            # S3's byte order ('-' before '/'), which s3rver's own listing does not keep.
            assert [key async for key in store.list("slugs/")] == [
                "slugs/app-2/def5678.tar.gz",
                "slugs/app/abc1234.tar.gz",
            ]
            assert not await store.exists("logs/app/gone")
            await store.get_file(key="sources/app/big.tar.gz", path=tmp_path / "back")
        assert (tmp_path / "back").read_bytes() == big.read_bytes()

    asyncio.run(read_back())
    assert docker("exec", container, "ls", "/data/deis/slugs/app").split() == [
        "abc1234.tar.gz._S3rver_metadata.json",
        "abc1234.tar.gz._S3rver_object",
        "abc1234.tar.gz._S3rver_object.md5",
    ]


def test_an_s3_write_cut_by_a_kill_leaves_the_old_object_whole(containers: Containers) -> None:
    container, port = s3_server(containers, buckets="deis")
    assert signed_put(port, "slugs/app/s.tar.gz", [b"old"], 3).status_code == 200
    size, chunk = 16 * 1024 * 1024, b"n" * 65536

    def slowly() -> Iterator[bytes]:
        for _ in range(size // len(chunk)):
            yield chunk
            time.sleep(0.005)  # about 1.3 s in all: the kill comes in the middle

    def overwrite() -> None:
        with contextlib.suppress(httpx.TransportError):  # the server dies under it
            signed_put(port, "slugs/app/s.tar.gz", slowly(), size)

    writer = threading.Thread(target=overwrite)
    writer.start()
    partial = "/data/deis/._S3rver_uploads/.partial"
    deadline = time.monotonic() + 20
    while not docker("exec", container, "ls", partial, check=False).strip():
        assert time.monotonic() < deadline, "the overwrite never began"
    docker("kill", container)
    writer.join(timeout=30)
    docker("start", container)
    containers.healthy(container)
    port = containers.port(container, 9000)

    async def check() -> None:
        async with s3_store(port) as store:
            assert await store.get_bytes("slugs/app/s.tar.gz") == b"old"

    asyncio.run(check())
    logs = subprocess.run(
        ["docker", "logs", container], capture_output=True, text=True, check=True
    ).stderr
    assert "removed 1 partial file(s) left by an interrupted write" in logs


def test_the_s3_server_takes_only_the_key_pair_it_is_given(containers: Containers) -> None:
    container, port = s3_server(containers)
    endpoint = f"http://127.0.0.1:{port}"

    async def code_of(access_key: str, secret: str) -> str:
        async with get_session().create_client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id=access_key, aws_secret_access_key=secret,
        ) as client:  # fmt: skip
            try:
                await client.list_objects_v2(Bucket="deis")
            except botocore.exceptions.ClientError as exc:
                return str(exc.response["Error"]["Code"])
        return "served"

    async def check() -> None:
        async with s3_store(port) as store:  # the platform's client creates the bucket
            await store.put_bytes(key="a", data=b"a")
        assert await code_of(*S3_KEYS) == "served"
        assert await code_of(S3_KEYS[0], "wrong-secret") == "SignatureDoesNotMatch"
        assert await code_of("S3RVER", "S3RVER") == "InvalidAccessKeyId"  # s3rver's own
        with pytest.raises(errors.ObjectStoreError, match="403"):
            async with s3_store(port, secret="wrong-secret"):
                pass

    asyncio.run(check())
    assert httpx.get(f"{endpoint}/deis/a").status_code == 403  # anonymous
    # A body other than the one signed is refused, and nothing is stored.
    url = f"{endpoint}/deis/b"
    request = AWSRequest(method="PUT", url=url, data=b"signed")
    S3SigV4Auth(Credentials(*S3_KEYS), "s3", "us-east-1").add_auth(request)
    swapped = httpx.put(url, headers=dict(request.headers.items()), content=b"forged")
    assert (swapped.status_code, "XAmzContentSHA256Mismatch" in swapped.text) == (400, True)
    assert "b._S3rver_object" not in docker("exec", container, "ls", "/data/deis").split()


def test_the_s3_server_refuses_to_start_without_a_key_pair(images: None) -> None:
    for env in ([], ["--env", "S3_ACCESS_KEY_ID=only-the-id"]):
        done = subprocess.run(
            ["docker", "run", "--rm", *env, image("s3")], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2
        assert "S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must both be set" in done.stderr


def test_the_router_runs_nginx_as_its_user(containers: Containers) -> None:
    network = unique_name("deis-test-")
    docker("network", "create", network)
    try:
        nats_server = containers.run("--network", network, "--network-alias", "nats", image("nats"))
        containers.healthy(nats_server)
        router = containers.run(
            "--network", network,
            "--publish", "127.0.0.1::8080",
            "--env", "DEIS_NATS_URL=nats://nats:4222",
            image("router"),
        )  # fmt: skip
        containers.healthy(router)
        port = containers.port(router, 8080)
        response = httpx.get(f"http://127.0.0.1:{port}/", headers={"Host": "nope.localhost"})
        assert response.status_code == 404
        top = docker("top", router, "-o", "pid,uid,comm").splitlines()
        processes = [line.split(maxsplit=2) for line in top]
        assert {comm for _, _, comm in processes[1:]} >= {"nginx", "tini"}
        assert {uid for _, uid, _ in processes[1:]} == {"1000"}
    finally:
        for container in containers.ids:
            docker("rm", "--force", container, check=False)
        containers.ids.clear()
        docker("network", "rm", network, check=False)


PYTHON_APP = """\
import http.server, os
import greeting

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{greeting.WORD} from {os.environ['WORKFLOW_RELEASE']} in {os.getcwd()}"
        body += f" as {os.getuid()} home {os.environ['HOME']}"
        body += f" secrets {sorted(k for k in os.environ if k.startswith('DEIS_S3'))}"
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body.encode())

http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


def python_slug() -> bytes:
    """A slug as the builder's Python buildpack makes it: packages in .deis/python, `python`
    a link to the system's interpreter, the env in .deis/slug.json."""
    metadata = {
        "schema": 1,
        "buildpack": "python",
        "process_types": {"web": "python app.py"},
        "env": {"PYTHONPATH": "$HOME/.deis/python", "PATH": "$HOME/.deis/python/bin:$PATH"},
    }
    files = {
        "app.py": PYTHON_APP,
        "Procfile": "web: python app.py\n",
        ".deis/python/greeting.py": "WORD = 'hello'\n",
        ".deis/slug.json": json.dumps(metadata),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"./{name}")
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        for link in ("python", "python3"):
            info = tarfile.TarInfo(f"./.deis/python/bin/{link}")
            info.type, info.linkname = tarfile.SYMTYPE, "/usr/bin/python3"
            tar.addfile(info)
    return buffer.getvalue()


def test_the_slug_runner_serves_a_python_slug_from_s3(
    containers: Containers, s3_server: S3Server
) -> None:
    bucket, key = unique_name("slugs-"), "slugs/hello/abc1234.tar.gz"

    async def upload() -> None:
        async with S3Store(
            bucket=bucket, endpoint_url=s3_server.endpoint_url,
            access_key_id=s3_server.access_key, secret_access_key=s3_server.secret_key,
        ) as store:  # fmt: skip
            await store.put_bytes(key=key, data=python_slug())

    asyncio.run(upload())
    port = free_port()
    # As the scheduler's pod runs it: read-only root, /app and /tmp writable, no capabilities.
    container = containers.run(
        "--network", "host",
        "--read-only", "--tmpfs", "/tmp", "--tmpfs", "/app:uid=1000,gid=1000,mode=0755",
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        "--env", f"PORT={port}",
        "--env", "WORKFLOW_RELEASE=v2",
        "--env", f"DEIS_SLUG_KEY={key}",
        "--env", "DEIS_COMMAND=python app.py",
        "--env", "DEIS_OBJECT_STORE=s3",
        "--env", f"DEIS_S3_ENDPOINT_URL={s3_server.endpoint_url}",
        "--env", f"DEIS_S3_BUCKET={bucket}",
        "--env", f"DEIS_S3_REGION={s3_server.region}",
        "--env", f"DEIS_S3_ACCESS_KEY_ID={s3_server.access_key}",
        "--env", f"DEIS_S3_SECRET_ACCESS_KEY={s3_server.secret_key}",
        image("slugrunner"), "start", "web",
    )  # fmt: skip
    deadline = time.monotonic() + 60
    response: httpx.Response | None = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
            break
        except httpx.TransportError:
            state = json.loads(docker("inspect", "--format", "{{json .State}}", container))
            assert state["Running"], docker("logs", container, check=False)
            time.sleep(0.2)
    assert response is not None, docker("logs", container, check=False)
    assert response.status_code == 200
    assert response.text == "hello from v2 in /app as 1000 home /app secrets []"
    docker("exec", container, "/opt/deis/bin/deis-slugrunner", "health")
    started = time.monotonic()
    docker("stop", "--time", "10", container)
    assert time.monotonic() - started < 5  # SIGTERM reached the app: no 10 s kill
