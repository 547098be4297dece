"""Deploy benchmark: `git push` to the first 200 of the new version through nginx.

Run: `uv run python -m bench.deploy`. Starts the whole platform with `deisctl up -d` on a data
dir of its own and free ports, registers a user, adds a key and creates a Python app with no
dependencies (stdlib `http.server`), pushes it once to warm up, then 5 times, each push
changing one file (the text the app answers). For each push it measures from the start of
`git push` until nginx answers 200 with the new text for the app's domain (polling every 10 ms
from a second thread while the push runs).

The floor, measured in the same run on the same machine: `git push` of the same change to a
plain local bare repository, then starting the app directly (`python app.py` with a `PORT`)
until its first 200. Prints p50 and each run, and the ratio of the two p50s.

Also prints how long `git push` itself took to return: it ends once nginx serves the release.

Target: at most 3 s p50. For comparison, Piku on a machine like this takes 3.6 s from push to
the new version, and answers 502 for about 2.3 s of it.
"""

import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.pushing import APP, free_port, git_env, pushed_app, run

RUNS = 5

PUSH_RETURNS: list[float] = []
"""How long each `git push` to the platform took to return (it waits for nginx to serve)."""


def wait_for(url: str, text: str, *, host: str | None, deadline: float) -> float:
    """Poll `url` every 10 ms until it answers 200 with `text`; when that happened."""
    headers = {"Host": host} if host else {}
    # A new connection per request, as a new visitor makes: a kept-alive one could stay with
    # an old nginx worker, which serves the configuration it started with.
    limits = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(timeout=2, headers=headers, limits=limits) as http:
        while time.monotonic() < deadline:
            try:
                answer = http.get(url)
                if answer.status_code == 200 and answer.text == text:
                    return time.monotonic()
            except httpx.HTTPError:
                pass
            time.sleep(0.01)
    raise TimeoutError(f"{url} never answered {text!r}")


class Watch(threading.Thread):
    """Waits for `text` in the background while the push runs."""

    def __init__(self, url: str, text: str, host: str | None) -> None:
        super().__init__(daemon=True)
        self.args = (url, text, host)
        self.seen: float | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        url, text, host = self.args
        try:
            self.seen = wait_for(url, text, host=host, deadline=time.monotonic() + 120)
        except BaseException as exc:  # noqa: BLE001 -- reported by the main thread
            self.error = exc


Serve = Callable[[str, Callable[[], object]], float]
"""Push (the callable), then wait until `text` is served; when it was."""


def push_and_time(copy: Path, env: dict[str, str], remote: str, n: int, serve: Serve) -> float:
    """Commit change `n`, push it to `remote`, return seconds until `serve(text)` saw it."""
    text = f"version {n}\n"
    (copy / "app.py").write_text(APP.format(text=text))
    run("git", "commit", "-qam", f"change {n}", cwd=copy, env=env)
    began = time.monotonic()
    seen = serve(text, lambda: run("git", "push", "-q", remote, "main", cwd=copy, env=env))
    return float(seen - began)


def platform_runs(work: Path) -> list[float]:
    with pushed_app(work) as app:  # the first push is a warm-up: the first build
        copy, env, remote = app.copy, app.env, app.remote
        url = f"http://127.0.0.1:{app.http}/"

        def serve(text: str, push: Callable[[], object]) -> float:
            watch = Watch(url, text, "bench.localhost")
            watch.start()
            began = time.monotonic()
            push()
            PUSH_RETURNS.append(time.monotonic() - began)
            watch.join()
            if watch.error is not None or watch.seen is None:
                raise RuntimeError(f"the new version was never served: {watch.error}")
            return watch.seen

        return [push_and_time(copy, env, remote, n, serve) for n in range(1, RUNS + 1)]


def floor_runs(work: Path) -> list[float]:
    bare = work / "bare.git"
    home = work / "floor"
    copy = home / "app"
    copy.mkdir(parents=True)
    env = git_env(home, home / "unused-key")
    run("git", "init", "-q", "--bare", str(bare), env=env)
    (copy / "app.py").write_text(APP.format(text="first\n"))
    run("git", "init", "-q", "-b", "main", cwd=copy, env=env)
    run("git", "add", "-A", cwd=copy, env=env)
    run("git", "commit", "-qm", "first", cwd=copy, env=env)
    run("git", "push", "-q", str(bare), "main", cwd=copy, env=env)

    def serve(text: str, push: Callable[[], object]) -> float:
        push()
        port = free_port()
        app = subprocess.Popen([sys.executable, "app.py"], cwd=copy, env={**env, "PORT": str(port)})
        try:
            return wait_for(
                f"http://127.0.0.1:{port}/", text, host=None, deadline=time.monotonic() + 30
            )
        finally:
            app.terminate()
            app.wait()

    return [push_and_time(copy, env, str(bare), n, serve) for n in range(1, RUNS + 1)]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="deis-bench-deploy-", dir="/tmp"))
    work.chmod(0o755)
    try:
        floor = floor_runs(work)
        platform = platform_runs(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    p50, floor_p50 = statistics.median(platform), statistics.median(floor)
    runs = ", ".join(f"{s:.2f}" for s in platform)
    floor_list = ", ".join(f"{s:.2f}" for s in floor)
    print(f"git push -> new version served through nginx, p50 of {RUNS} pushes")
    print(f"platform                 {p50:6.2f} s   (target <= 3 s; runs: {runs})")
    print(
        f"floor                    {floor_p50:6.2f} s   (push to a bare repo, start the app"
        f" directly; runs: {floor_list})"
    )
    print(f"ratio to the floor       {p50 / floor_p50:6.1f}x")
    returns = ", ".join(f"{s:.2f}" for s in PUSH_RETURNS)
    print(f"git push returned after  {statistics.median(PUSH_RETURNS):6.2f} s   (runs: {returns})")


if __name__ == "__main__":
    main()
