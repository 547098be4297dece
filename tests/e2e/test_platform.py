"""End to end: what a developer does with the platform, through `deis`, `git push` and nginx."""

import json
import os
import shutil
import signal
import subprocess
import threading

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

NODE_APP = {
    "package.json": json.dumps({"name": "n", "scripts": {"start": "node index.js"}}),
    "index.js": "require('http').createServer((q, s) => s.end('node\\n'))"
    ".listen(process.env.PORT)\n",
}

STATIC_SITE = {"index.html": "<p>static</p>\n"}


def create(developer, app, files):
    copy = developer.checkout(app, files)
    developer.deis("create", app, cwd=copy)
    remotes = developer.git("remote", "-v", cwd=copy).stdout
    assert f"/{app}.git" in remotes
    return copy


def served(platform, app, body):
    answer = platform.get(app)
    return answer.status_code == 200 and answer.text == body


def steadily_served(platform, app, body):
    """Served 20 times in a row: for a moment after a reload, nginx's old workers still accept
    connections with the configuration before it."""
    return all(served(platform, app, body) for _ in range(20))


def test_python_node_and_static_apps_are_pushed_and_served(python_app, platform, developer, until):
    apps = {"py": (python_app, "hello from v2\n"), "static": (STATIC_SITE, "<p>static</p>\n")}
    if shutil.which("npm") is not None:
        apps["node"] = (NODE_APP, "node\n")
    for kind, (files, body) in apps.items():
        app = f"{developer.username}-{kind}"
        copy = create(developer, app, files)
        pushed = developer.push(copy)
        assert f"done, {app} v2" in pushed.stderr
        # The push ends once nginx serves the release: a request right after it meets it.
        assert served(platform, app, body)
    listed = developer.deis("apps:list").stdout
    assert all(f"{developer.username}-{kind}" in listed for kind in apps)
    assert platform.get("no-such-app").status_code == 404


def test_config_scale_logs_releases_and_rollback(python_app, platform, developer, until):
    app = f"{developer.username}-cfg"
    copy = create(developer, app, python_app)
    developer.push(copy)
    until(lambda: served(platform, app, "hello from v2\n"))

    developer.deis("config:set", "GREETING=hi", "-a", app)
    until(lambda: served(platform, app, "hi from v3\n"))
    assert "GREETING" in developer.deis("config:list", "-a", app).stdout

    developer.deis("ps:scale", "web=3", "worker=1", "-a", app)

    def scaled():
        listing = developer.deis("ps:list", "-a", app).stdout
        return listing.count(f"{app}-web-v") == 3 and listing.count(f"{app}-worker-v") == 1

    until(scaled)
    until(lambda: "worker tick" in developer.deis("logs", "-a", app).stdout)
    # `logs -f` goes on with lines written after it started.
    ticks = [
        int(t.rsplit(" ", 1)[1])
        for t in developer.deis("logs", "-a", app).stdout.splitlines()
        if "worker tick" in t
    ]
    followed = developer.follow(
        "logs", "-f", "-n", "1", "-a", app,
        until_line=lambda text: "worker tick" in text
        and int(text.rsplit(" ", 1)[1]) > max(ticks) + 2,
    )  # fmt: skip
    assert f"{app}[worker.1]: worker tick" in followed

    releases = developer.deis("releases", "-a", app).stdout
    assert "v3" in releases
    developer.deis("rollback", "v2", "-a", app)
    until(lambda: served(platform, app, "hello from v4\n"))


def test_a_custom_domain_is_served_with_its_certificate_by_sni(
    platform, developer, tmp_path, until
):
    app = f"{developer.username}-tls"
    copy = create(developer, app, STATIC_SITE)
    developer.push(copy)
    domain = f"{developer.username}.example.test"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", f"/CN={domain}", "-addext", f"subjectAltName=DNS:{domain}",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    developer.deis("domains:add", domain, "-a", app)
    name = f"{developer.username}-cert"
    developer.deis("certs:add", name, str(cert), str(key))
    developer.deis("certs:attach", name, domain)

    def https_served():
        done = subprocess.run(
            [
                "curl", "-sS", "--max-time", "5", "--cacert", str(cert),
                "--resolve", f"{domain}:{platform.https_port}:127.0.0.1",
                f"https://{domain}:{platform.https_port}/",
            ],
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
        return done.returncode == 0 and done.stdout == "<p>static</p>\n"

    try:
        until(https_served, seconds=20)
    except AssertionError as failed:  # say what the router and the controller saw
        logs = platform.data_dir / "logs"
        tails = "".join(
            f"==> {name}.log\n{(logs / f'{name}.log').read_text(errors='replace')[-4000:]}\n"
            for name in ("router", "controller")
        )
        raise AssertionError(f"{failed}\n{tails}") from None


def test_a_second_user_is_denied_until_granted_then_pushes(
    platform, developer, new_developer, until
):
    app = f"{developer.username}-shared"
    copy = create(developer, app, STATIC_SITE)
    developer.push(copy)
    other = new_developer("other")
    theirs = other.checkout(app, {"index.html": "<p>theirs</p>\n"})
    other.deis("git:remote", "-a", app, cwd=theirs)

    refused = other.git("push", "-f", "deis", "main", cwd=theirs)
    assert refused.returncode != 0
    assert other.deis("info", "-a", app, check=False).returncode != 0

    developer.deis("perms:create", other.username, "-a", app)
    pushed = other.git("push", "-f", "deis", "main", cwd=theirs)
    assert pushed.returncode == 0, pushed.stderr
    until(lambda: served(platform, app, "<p>theirs</p>\n"))


def test_destroy_removes_the_route_and_the_processes(python_app, platform, developer, until):
    app = f"{developer.username}-gone"
    copy = create(developer, app, python_app)
    developer.push(copy)
    until(lambda: served(platform, app, "hello from v2\n"))
    developer.deis("apps:destroy", "-a", app, f"--confirm={app}")
    until(lambda: platform.get(app).status_code == 404)
    apps = platform.data_dir / "scheduler" / "apps" / app
    until(lambda: not apps.exists())


def test_a_redeploy_under_load_fails_no_request(python_app, platform, developer, until):
    app = f"{developer.username}-load"
    copy = create(developer, app, python_app)
    developer.push(copy)
    until(lambda: steadily_served(platform, app, "hello from v2\n"))

    failures = []
    answers = []
    stop = threading.Event()

    def load():
        # A new connection per request: an idle keep-alive connection that nginx closes as it
        # reloads can meet a request already on its way (browsers resend those).
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(timeout=10, headers={"Host": f"{app}.localhost"}, limits=limits) as http:
            while not stop.is_set():
                try:
                    answer = http.get(f"http://127.0.0.1:{platform.http_port}/")
                    if answer.status_code != 200:
                        failures.append(f"{answer.status_code} {answer.text[:80]}")
                    else:
                        answers.append(answer.text)
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))

    loader = threading.Thread(target=load)
    loader.start()
    try:
        developer.commit(copy, "app.py", python_app["app.py"].replace('"hello"', '"howdy"'))
        developer.push(copy)
        until(lambda: answers and answers[-1] == "howdy from v3\n")
    finally:
        stop.set()
        loader.join()
    assert failures == []
    assert "hello from v2\n" in answers


def test_deisctl_reports_refuses_a_second_up_and_restarts_a_dead_service(platform, deisctl, until):
    status = deisctl("status", data_dir=platform.data_dir)
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith("ready")
    services = ("postgres", "nats", "controller", "builder", "scheduler", "logger", "router")
    for name in services:
        assert f"  {name} " in status.stdout and "down" not in status.stdout

    again = deisctl("up", data_dir=platform.data_dir)
    assert again.returncode == 1
    assert "already running" in again.stderr

    assert "service started" in deisctl("logs", "controller", data_dir=platform.data_dir).stdout
    assert deisctl("logs", "nothing", data_dir=platform.data_dir).returncode == 1

    def pid_of(name):
        for line in deisctl("status", data_dir=platform.data_dir).stdout.splitlines():
            words = line.split()
            if words[:2] == [name, "up"]:
                return int(words[2])
        return None

    logger = pid_of("logger")
    os.kill(logger, signal.SIGKILL)
    until(lambda: pid_of("logger") not in (None, logger), seconds=30)
