"""End to end: a request that makes a release answers with the truth about its rollout.

Through `deis` against `deisctl up`: a config that makes the app crash is refused with the
reason and the process's last lines, the release is recorded failed and the previous one serves
on; a config change is served the moment `config:set` returns (no sleep, no polling); a second
change while one rolls out gets 409.
"""

import threading
import time

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

MOODY_APP = {
    "Procfile": "web: python app.py\n",
    "requirements.txt": "",
    "app.py": """\
import http.server, os, sys, time

if os.environ.get("CRASH"):
    print("refusing to start: CRASH is set", flush=True)
    sys.exit(3)
time.sleep(float(os.environ.get("SLOW", "0")))

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (os.environ.get("GREETING", "hello") + " from " + os.environ["WORKFLOW_RELEASE"]
                + "\\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
""",
}


def test_a_crashing_config_is_refused_and_the_previous_release_serves_on(platform, developer):
    app = f"{developer.username}-moody"
    copy = developer.checkout(app, MOODY_APP)
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


def test_a_config_change_is_served_when_the_command_returns(platform, developer):
    app = f"{developer.username}-prompt"
    copy = developer.checkout(app, MOODY_APP)
    developer.deis("create", app, cwd=copy)
    developer.push(copy)
    for version, greeting in ((3, "hi"), (4, "hey"), (5, "yo")):
        developer.deis("config:set", f"GREETING={greeting}", "-a", app)
        assert platform.get(app).text == f"{greeting} from v{version}\n"  # at once, every time


def test_a_change_while_one_rolls_out_is_refused_with_409(platform, developer):
    app = f"{developer.username}-busy"
    copy = developer.checkout(app, MOODY_APP)
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
