"""End to end: a hostile app, pushed and run through the real platform, reaches nothing.

The app answers `/probe` by trying, from inside its sandbox, what issue 15 lists: the
platform's PostgreSQL and NATS (found by scanning every loopback port), the data dir and its
secrets, another app's slug, `/proc/<pid>/environ` of the platform and of the neighbour app,
writes outside its scratch space, a fork bomb, and `kill -9` of the neighbour's process. It
reports each outcome as JSON; the test asserts every attempt failed, and that the neighbour
app served every request meanwhile and still runs.
"""

import json
import os
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from deis_testing import app_pids

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

PROBE = r"""
import errno, http.server, json, os, signal, socket, subprocess, urllib.parse


def failure(exc):
    reason = os.strerror(exc.errno) if getattr(exc, "errno", None) else str(exc)
    return type(exc).__name__ + ": " + reason


def attempt(action):
    try:
        result = action()
    except Exception as exc:
        return "refused: " + failure(exc)
    return "DONE: " + repr(result)[:200]


def open_ports():
    found = []
    for port in range(1, 65536):
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                found.append(port)
    return found


def talk(port, greeting_wait=0.3):
    sock = socket.create_connection(("127.0.0.1", port), timeout=2)
    sock.settimeout(greeting_wait)
    try:
        greeting = sock.recv(4096)
    except socket.timeout:
        greeting = b""
    return sock, greeting


def nats(port, sock, greeting):
    sock.settimeout(2)
    sock.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\n'
                 b"SUB > 1\r\nPUB deis.events.build.victim.completed 2\r\nhi\r\nPING\r\n")
    said = b""
    try:
        while b"PONG" not in said and b"-ERR" not in said:
            chunk = sock.recv(4096)
            if not chunk:
                break
            said += chunk
    except socket.timeout:
        pass
    if b"-ERR" in said:
        return "refused: " + said.decode(errors="replace").strip().splitlines()[-1]
    return "DONE: " + said.decode(errors="replace")[:200]


def postgres(port, user):
    sock, _ = talk(port, greeting_wait=0.05)
    with sock:
        sock.settimeout(2)
        body = (b"\x00\x03\x00\x00user\x00" + user.encode() + b"\x00database\x00postgres\x00\x00")
        sock.sendall(len(body + b"1234").to_bytes(4, "big") + body)
        answer = sock.recv(4096)
    if not answer:
        return None
    if answer[:1] == b"R" and len(answer) >= 9:
        code = int.from_bytes(answer[5:9], "big")
        return "DONE: trusted" if code == 0 else f"refused: password asked (method {code})"
    if answer[:1] == b"E":
        return "refused: " + answer[5:].replace(b"\x00", b" ").decode(errors="replace")[:200]
    return None


def servers():
    report = {"postgres": {}, "nats": {}}
    own = int(os.environ["PORT"])
    for port in open_ports():
        if port == own:
            continue
        try:
            sock, greeting = talk(port)
        except OSError:
            continue
        with sock:
            if greeting.startswith(b"INFO "):
                report["nats"][port] = nats(port, sock, greeting)
                continue
        for user in ("postgres", "deis_controller", "deis_builder"):
            try:
                outcome = postgres(port, user)
            except OSError:
                break
            if outcome is None:
                break
            report["postgres"].setdefault(port, {})[user] = outcome
    return report


def fork_bomb():
    children = []
    outcome = "no limit met"
    try:
        while len(children) < 100_000:
            children.append(subprocess.Popen(["sleep", "120"]))
    except OSError as exc:
        outcome = failure(exc)
    for child in children:
        child.kill()
    for child in children:
        child.wait()
    return {"started": len(children), "stopped_by": outcome}


def probe(targets):
    data = targets["data_dir"]
    report = {"whoami": os.getuid(), "servers": servers()}
    report["listdir"] = {
        path: attempt(lambda path=path: os.listdir(path))
        for path in [data, data + "/secrets", data + "/scheduler", data + "/builder",
                     targets["neighbour_slug"], "/root", "/var/lib", "/home"]
    }
    report["read"] = {
        path: attempt(lambda path=path: open(path, "rb").read(100))
        for path in [data + "/secrets/nats-controller", data + "/secrets/postgres",
                     targets["neighbour_slug"] + "/app.py", "/etc/shadow"]
        + [f"/proc/{pid}/environ" for pid in targets["pids"]]
    }
    report["write"] = {
        path: attempt(lambda path=path: open(path, "w").write("pwned"))
        for path in ["/app/pwned", "/usr/pwned", "/etc/pwned", data + "/pwned",
                     targets["neighbour_slug"] + "/pwned"]
    }
    report["scratch"] = attempt(lambda: open("/tmp/mine", "w").write("mine"))
    report["kill"] = {
        str(pid): attempt(lambda pid=pid: os.kill(pid, signal.SIGKILL)) for pid in targets["pids"]
    }
    report["processes_seen"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    report["fork_bomb"] = fork_bomb()
    return report


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        query = urllib.parse.urlsplit(self.path).query
        if self.path.startswith("/probe"):
            targets = json.loads(urllib.parse.parse_qs(query)["targets"][0])
            body = json.dumps(probe(targets)).encode()
        else:
            body = ("hostile " + os.environ["WORKFLOW_RELEASE"] + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""

HOSTILE_APP = {"Procfile": "web: python app.py\n", "requirements.txt": "", "app.py": PROBE}


def service_pid(data_dir: Path, service: str) -> int:
    state = json.loads((data_dir / "run" / "state.json").read_text())
    return int(state["processes"][service])


def service_env(data_dir: Path, service: str) -> dict[str, str]:
    raw = Path(f"/proc/{service_pid(data_dir, service)}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def release_dir(data_dir: Path, app: str) -> Path:
    releases = sorted((data_dir / "scheduler" / "apps" / app).glob("v*"))
    assert releases, f"no release of {app} unpacked"
    return releases[-1]


def test_a_hostile_app_reaches_neither_the_platform_nor_its_neighbour(
    python_app, platform, developer, until
):
    neighbour = f"{developer.username}-neighbour"
    copy = developer.checkout(neighbour, python_app)
    developer.deis("create", neighbour, cwd=copy)
    developer.push(copy)
    hostile = f"{developer.username}-hostile"
    copy = developer.checkout(hostile, HOSTILE_APP)
    developer.deis("create", hostile, cwd=copy)
    developer.push(copy)
    assert platform.get(hostile).text == "hostile v2\n"
    assert platform.get(neighbour).text == "hello from v2\n"

    data_dir = platform.data_dir
    neighbour_pids = sorted(app_pids(neighbour))
    platform_pids = [service_pid(data_dir, name) for name in ("controller", "scheduler")]
    targets = {
        "data_dir": str(data_dir),
        "neighbour_slug": str(release_dir(data_dir, neighbour)),
        "pids": neighbour_pids + platform_pids,
    }
    served, failed = 0, list[object]()
    probing = threading.Event()

    def visit_the_neighbour() -> None:
        nonlocal served
        with httpx.Client(timeout=10) as client:
            while not probing.is_set():
                try:
                    answer = client.get(
                        f"http://127.0.0.1:{platform.http_port}/",
                        headers={"Host": f"{neighbour}.localhost"},
                    )
                    if answer.status_code == 200:
                        served += 1
                    else:
                        failed.append(answer.status_code)
                except httpx.HTTPError as exc:
                    failed.append(repr(exc))
                time.sleep(0.02)

    visitor = threading.Thread(target=visit_the_neighbour)
    visitor.start()
    try:
        answer = platform.get(
            hostile, "/probe", params={"targets": json.dumps(targets)}, timeout=300
        )
    finally:
        probing.set()
        visitor.join()
    assert answer.status_code == 200, answer.text[:500]
    report = answer.json()

    assert report["whoami"] not in (0, os.getuid()) or os.getuid() != 0
    database = urlsplit(service_env(data_dir, "controller")["DEIS_DATABASE_URL"]).port
    bus = urlsplit(service_env(data_dir, "controller")["DEIS_NATS_URL"]).port
    # The scan finds the platform's servers (and whatever else this host runs, its own
    # PostgreSQL and NATS included, which are not the platform's), and they refuse the app.
    found = report["servers"]
    assert str(database) in found["postgres"], found
    assert str(bus) in found["nats"], found
    for user, outcome in found["postgres"][str(database)].items():
        assert outcome.startswith("refused"), (user, outcome)
    outcome = found["nats"][str(bus)]
    assert outcome.startswith("refused"), outcome
    assert "Authorization Violation" in outcome
    for kind in ("listdir", "read", "write", "kill"):
        for target, outcome in report[kind].items():
            assert outcome.startswith("refused"), (kind, target, outcome)
    assert report["scratch"].startswith("DONE")
    assert not set(report["processes_seen"]) & set(targets["pids"])
    assert len(report["processes_seen"]) < 10
    bomb = report["fork_bomb"]
    assert "Resource temporarily unavailable" in bomb["stopped_by"], bomb
    assert bomb["started"] < 2000

    # Nothing of the platform or the neighbour was touched.
    assert not list(data_dir.rglob("pwned"))
    assert all(Path(f"/proc/{pid}").exists() for pid in targets["pids"])
    assert failed == [] and served > 0, (served, failed[:5])
    assert platform.get(neighbour).text == "hello from v2\n"
    developer.deis("config:set", "GREETING=still", "-a", neighbour)
    until(lambda: platform.get(neighbour).text == "still from v3\n")
    assert platform.get(hostile).text == "hostile v2\n"
