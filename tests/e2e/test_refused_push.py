"""End to end: a push whose app is destroyed while it builds ends at once with the reason.

The controller refuses to release the build of an app that is gone and says so
(`build.<app>.refused`); the push ends with that reason instead of waiting out the builder's
deploy timeout (600 s). The build is held long enough to destroy the app by a slow `preinstall`
script of the Node.js app (npm runs the app's own scripts).
"""

import json
import shutil
import subprocess
import threading
import time

import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(300),
    pytest.mark.skipif(shutil.which("npm") is None, reason="the Node.js buildpack needs npm"),
]

MARKER = "slow step started"

SLOW_NODE_APP = {
    "package.json": json.dumps(
        {
            "name": "slow",
            "dependencies": {"helper": "file:helper"},  # npm runs only with something to install
            "scripts": {
                "preinstall": f"node -e \"console.log('{MARKER}'); setTimeout(() => {{}}, 6000)\"",
                "start": "node index.js",
            },
        }
    ),
    "helper/package.json": json.dumps({"name": "helper", "version": "1.0.0"}),
    "index.js": "require('http').createServer((q, s) => s.end('node\\n'))"
    ".listen(process.env.PORT)\n",
}

ENDS_WITHIN = 30.0
"""Seconds from destroying the app to the push's end: the rest of the build, then the reason."""


def test_a_push_whose_app_is_destroyed_while_it_builds_ends_with_the_reason(developer):
    app = f"{developer.username}-gone"
    copy = developer.checkout(app, SLOW_NODE_APP)
    developer.deis("create", app, cwd=copy)
    lines: list[str] = []
    building = threading.Event()
    with subprocess.Popen(
        ["git", "push", "deis", "main"],
        cwd=copy,
        env=developer.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as push:
        timer = threading.Timer(240, push.kill)
        timer.start()

        def read() -> None:
            assert push.stdout is not None
            for line in push.stdout:
                lines.append(line)
                if MARKER in line:
                    building.set()
            building.set()  # the push ended without the slow step: the assertion below says so

        reader = threading.Thread(target=read)
        reader.start()
        try:
            building.wait(180)
            assert any(MARKER in line for line in lines), "".join(lines)
            developer.deis("apps:destroy", "-a", app, f"--confirm={app}")
            destroyed = time.monotonic()
            code = push.wait(ENDS_WITHIN + 30)
            took = time.monotonic() - destroyed
        finally:
            timer.cancel()
            push.kill()
            reader.join()

    said = "".join(lines)
    assert code != 0, said
    assert f"! app {app} was deleted during the push: nothing was released" in said, said
    assert "[remote rejected] main -> main (pre-receive hook declined)" in said, said
    assert took < ENDS_WITHIN, (took, said)
