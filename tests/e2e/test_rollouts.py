"""End to end: a request that makes a release answers with the truth about its rollout.

Through `deis` against `deisctl up`: a config that makes the app crash is refused with the
reason and the process's last lines, the release is recorded failed and the previous one serves
on; a config change is served the moment `config:set` returns (no sleep, no polling); a second
change while one rolls out gets 409. A scale answers once its processes run, a scale of a type
that crashes is refused with the reason and scaled back, and `ps:restart` answers with the
replacements, running. Routing and maintenance are served the moment their command returns.
"""

import json
import threading
import time

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def test_a_crashing_config_is_refused_and_the_previous_release_serves_on(
    platform, developer, moody_app
):
    app = f"{developer.username}-moody"
    copy = developer.checkout(app, moody_app)
    developer.deis("create", app, cwd=copy)
    developer.push(copy)
    assert platform.get(app).text == "hello from v2\n"

    refused = developer.deis("config:set", "CRASH=1", "-a", app, check=False)

    assert refused.returncode != 0
    said = refused.stderr + refused.stdout
    assert "v3 failed to deploy" in said, said
    assert "exited with code 3" in said, said
    assert "refusing to start: CRASH is set" in said, said
    assert platform.get(app).text == "hello from v2\n"
    releases = developer.deis("releases", "-a", app).stdout
    assert "v3" in releases and "failed" in releases.lower(), releases


def test_a_config_change_is_served_when_the_command_returns(platform, developer, moody_app):
    app = f"{developer.username}-prompt"
    copy = developer.checkout(app, moody_app)
    developer.deis("create", app, cwd=copy)
    developer.push(copy)
    for version, greeting in ((3, "hi"), (4, "hey"), (5, "yo")):
        developer.deis("config:set", f"GREETING={greeting}", "-a", app)
        assert platform.get(app).text == f"{greeting} from v{version}\n"  # at once, every time


def test_a_change_while_one_rolls_out_is_refused_with_409(platform, developer, moody_app):
    app = f"{developer.username}-busy"
    copy = developer.checkout(app, moody_app)
    developer.deis("create", app, cwd=copy)
    developer.push(copy)
    first: dict[str, object] = {}

    def slow_change() -> None:
        first["done"] = developer.deis("config:set", "SLOW=4", "-a", app, check=False)

    changing = threading.Thread(target=slow_change)
    changing.start()
    time.sleep(1.5)  # the first change is rolling out: its process sleeps 4 s before it listens
    second = developer.deis("config:set", "GREETING=meanwhile", "-a", app, check=False)
    changing.join()

    assert second.returncode != 0
    assert "already in progress" in second.stderr + second.stdout
    done = first["done"]
    assert getattr(done, "returncode", 1) == 0, done
    assert platform.get(app).text == "hello from v3\n"


WORKING_APP_FILES = {
    "Procfile": "web: python app.py\nworker: python worker.py\nbroken: python broken.py\n",
    "worker.py": "import time\nprint('working', flush=True)\nwhile True:\n    time.sleep(60)\n",
    "broken.py": "import sys\nprint('no queue configured: giving up', flush=True)\nsys.exit(4)\n",
}


def _pods(developer, app: str) -> list[dict[str, str]]:
    pods: list[dict[str, str]] = json.loads(developer.deis("ps", "-a", app, "--json").stdout)[
        "results"
    ]
    return pods


def test_a_scale_answers_when_its_processes_run_and_refuses_a_crashing_type(
    platform, developer, moody_app
):
    app = f"{developer.username}-scaled"
    copy = developer.checkout(app, {**moody_app, **WORKING_APP_FILES})
    developer.deis("create", app, cwd=copy)
    developer.push(copy)

    developer.deis("scale", "worker=2", "-a", app)
    workers = [pod for pod in _pods(developer, app) if pod["type"] == "worker"]
    assert [pod["state"] for pod in workers] == ["up", "up"], workers  # at once, no polling

    refused = developer.deis("scale", "broken=1", "-a", app, check=False)
    assert refused.returncode != 0
    said = refused.stderr + refused.stdout
    assert "scaling broken=1 failed: broken.1 exited with code 4" in said, said
    assert "no queue configured: giving up" in said, said
    shown = json.loads(developer.deis("info", "-a", app, "--json").stdout)
    assert shown["app"]["structure"] == {"web": 1, "worker": 2}  # scaled back, as Deis did
    assert platform.get(app).text == "hello from v2\n"

    developer.deis("scale", "worker=0", "-a", app)
    assert [pod["type"] for pod in _pods(developer, app)] == ["web"]


def test_a_restart_answers_with_the_running_replacements(platform, developer, moody_app):
    app = f"{developer.username}-restarted"
    copy = developer.checkout(app, {**moody_app, **WORKING_APP_FILES})
    developer.deis("create", app, cwd=copy)
    developer.push(copy)
    developer.deis("scale", "web=2", "worker=1", "-a", app)
    before = {pod["name"]: pod["started"] for pod in _pods(developer, app)}
    time.sleep(1.1)  # start times are given to the second: a replacement's must be later

    restarted = json.loads(developer.deis("ps:restart", "web", "-a", app, "--json").stdout)

    assert sorted(pod["name"] for pod in restarted) == sorted(
        name for name in before if "-web-" in name
    )
    for pod in restarted:
        assert pod["state"] == "up", restarted
        assert pod["started"] > before[pod["name"]], (pod, before)
    assert platform.get(app).text == "hello from v2\n"
    everything = json.loads(developer.deis("ps:restart", "-a", app, "--json").stdout)
    assert sorted(pod["type"] for pod in everything) == ["web", "web", "worker"]
    assert all(pod["state"] == "up" for pod in everything), everything


def test_routing_and_maintenance_are_served_when_the_command_returns(
    platform, developer, moody_app
):
    """`routing:disable`, `maintenance:on` and back: the router serves each the moment the
    command returns (no sleep, no polling), every time."""
    app = f"{developer.username}-routed"
    copy = developer.checkout(app, moody_app)
    developer.deis("create", app, cwd=copy)
    developer.push(copy)
    for _ in range(3):
        developer.deis("routing:disable", "-a", app)
        assert platform.get(app).status_code == 404  # nginx knows the app no more
        developer.deis("routing:enable", "-a", app)
        assert platform.get(app).text == "hello from v2\n"
        developer.deis("maintenance:on", "-a", app)
        assert platform.get(app).status_code == 503
        developer.deis("maintenance:off", "-a", app)
        assert platform.get(app).text == "hello from v2\n"
