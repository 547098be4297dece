"""Pushes through the real git and ssh clients: build, slug, release, rollout, history."""

import asyncio
import json
import os
import shutil
import tarfile
import time

import asyncpg
import pytest

from deis_shared.objectstore import keys

STATIC = {"index.html": "<h1>hello</h1>\n"}


async def test_first_push_builds_stores_a_slug_and_ends_with_the_release(
    own_app, builder, controller, rollouts, app_name, module_pg_dsn
):
    dev, wc = await own_app()
    sha = await wc.commit(STATIC)

    pushed = await wc.push()

    assert pushed.code == 0, pushed.output
    assert "remote: -----> Static site detected" in pushed.output
    assert f"done, {app_name} v2" in pushed.output
    assert f"http://{app_name}.localhost:8080" in pushed.output
    store = builder.ctx.store
    slug = keys.slug_key(app_name, sha[:7])
    assert await store.exists(slug)
    assert await store.exists(keys.source_key(app_name, sha[:7]))
    local = builder.ctx.settings.data_dir / "slug.tgz"
    await store.get_file(key=slug, path=local)
    with tarfile.open(local) as tar:
        names = tar.getnames()
    assert "./index.html" in names
    assert "./.deis/slug.json" in names
    builds = controller.builds(dev.token, app_name)
    assert [b["sha"] for b in builds] == [sha[:7]]
    assert builds[0]["procfile"]["web"].endswith("http.server $PORT")
    conn = await asyncpg.connect(module_pg_dsn)
    try:
        row = await conn.fetchrow(
            "SELECT username, sha, result, version, buildpack FROM builder.pushes WHERE app = $1",
            app_name,
        )
    finally:
        await conn.close()
    assert row is not None
    assert dict(row) == {
        "username": dev.username,
        "sha": sha,
        "result": "succeeded",
        "version": 2,
        "buildpack": "static",
    }


async def test_a_second_push_sends_only_the_new_objects(own_app, rollouts, app_name):
    _, wc = await own_app()
    await wc.commit({**STATIC, "a.txt": "a\n", "b.txt": "b\n", "c.txt": "c\n", "d.txt": "d\n"})
    first = await wc.push("--progress")
    assert first.code == 0, first.output
    assert "Writing objects: 100% (7/7)" in first.output

    await wc.commit({"a.txt": "changed\n"})
    second = await wc.push("--progress")

    assert second.code == 0, second.output
    assert "Writing objects: 100% (3/3)" in second.output
    assert f"done, {app_name} v3" in second.output


async def test_other_branches_are_refused_with_the_reason(own_app, controller, run_git, app_name):
    dev, wc = await own_app()
    await wc.commit(STATIC)
    assert (await run_git("branch", "feature", cwd=wc.path, env=wc.env)).code == 0

    pushed = await wc.push(branch="feature")

    assert pushed.code != 0
    assert "refs/heads/feature are refused: push to main or master" in pushed.output
    assert "[remote rejected] feature -> feature (pre-receive hook declined)" in pushed.output
    assert controller.builds(dev.token, app_name) == []


async def test_a_failed_build_rejects_the_push_and_keeps_the_previous_slug(
    own_app, builder, controller, rollouts, bus, app_name
):
    dev, wc = await own_app()
    good = await wc.commit(STATIC)
    assert (await wc.push()).code == 0
    failures = []

    async def failed(msg):
        failures.append(json.loads(msg.data))

    sub = await bus.subscribe(f"deis.events.build.{app_name}.failed", cb=failed)
    (wc.path / "index.html").unlink()
    bad = await wc.commit({"README": "no marker here\n"})

    pushed = await wc.push()

    await sub.unsubscribe()
    assert pushed.code != 0
    assert "remote: ! no buildpack detected" in pushed.output
    assert "[remote rejected] main -> main (pre-receive hook declined)" in pushed.output
    assert [b["sha"] for b in controller.builds(dev.token, app_name)] == [good[:7]]
    assert not await builder.ctx.store.exists(keys.slug_key(app_name, bad[:7]))
    assert await builder.ctx.store.exists(keys.slug_key(app_name, good[:7]))
    assert [(f["sha"], f["user"]) for f in failures] == [(bad[:7], dev.username)]
    assert "no buildpack detected" in failures[0]["reason"]


async def test_a_failed_rollout_rejects_the_push_with_the_reason_and_log_lines(
    builder, controller, developer, working_copy, rollouts, app_name
):
    dev = developer()
    controller.create_app(dev.token, app_name)
    rollouts.failing[app_name] = "web.1 exited with code 1 before becoming healthy"
    wc = await working_copy(dev, builder, app_name)
    await wc.commit(STATIC)

    pushed = await wc.push()

    assert pushed.code != 0
    assert "! v2 failed to deploy: web.1 exited with code 1" in pushed.output
    assert "ImportError: no app" in pushed.output


async def _push_streaming(wc, seen: asyncio.Event, marker: str):
    process = await asyncio.create_subprocess_exec(
        "git",
        "push",
        "deis",
        "main",
        cwd=wc.path,
        env=wc.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    lines = []
    assert process.stdout is not None
    async for raw in process.stdout:
        line = raw.decode(errors="replace")
        lines.append(line)
        if marker in line:
            seen.set()
    return await process.wait(), "".join(lines)


@pytest.fixture
async def held_push(builder, controller, developer, working_copy, rollouts, run_git, app_name):
    """A first push held in its rollout, and a second working copy one commit ahead of it."""
    dev = developer()
    controller.create_app(dev.token, app_name)
    first = await working_copy(dev, builder, app_name)
    await first.commit(STATIC)
    second = await working_copy(dev, builder, app_name)
    pulled = await run_git("pull", "-q", str(first.path), "main", cwd=second.path, env=second.env)
    assert pulled.code == 0, pulled.output
    await second.commit({"about.html": "<p>about</p>\n"})
    rollouts.hold = asyncio.Event()
    one = asyncio.create_task(first.push())
    await rollouts.wait_for_release(1)
    yield one, second
    rollouts.hold.set()
    await one


async def test_a_second_concurrent_push_waits_for_the_first(held_push, rollouts, app_name):
    one, second = held_push
    waiting = asyncio.Event()
    two = asyncio.create_task(_push_streaming(second, waiting, "is in progress; waiting"))
    async with asyncio.timeout(30):
        await waiting.wait()
    assert rollouts.hold is not None
    rollouts.hold.set()
    first_result = await one
    code, output = await two

    assert first_result.code == 0, first_result.output
    assert code == 0, output
    assert f"done, {app_name} v3" in output


@pytest.mark.parametrize("builder_overrides", [{"push_lock_wait": 0.5}])
async def test_a_second_push_is_refused_when_the_first_takes_too_long(
    held_push, rollouts, app_name
):
    one, second = held_push

    refused = await second.push()

    assert rollouts.hold is not None
    rollouts.hold.set()
    assert (await one).code == 0
    assert refused.code != 0
    assert f"another push to {app_name} is still running" in refused.output


async def test_a_push_whose_app_is_deleted_meanwhile_ends_at_once_with_the_reason(
    held_push, rollouts, controller, app_name
):
    one, second = held_push
    waiting = asyncio.Event()
    two = asyncio.create_task(_push_streaming(second, waiting, "is in progress; waiting"))
    async with asyncio.timeout(30):
        await waiting.wait()
    # The second push was let in (authorized) before the app went; its build is released by
    # no one: the controller says so, and the push must not wait its 20 s deploy timeout.
    deleted = controller.call("DELETE", f"/v2/apps/{app_name}/", controller.admin)
    assert deleted.status_code == 204, deleted.text
    assert rollouts.hold is not None
    rollouts.hold.set()
    await one
    started = time.monotonic()
    code, output = await two
    took = time.monotonic() - started

    assert code != 0
    assert f"! app {app_name} was deleted during the push: nothing was released" in output
    assert "Launching..." in output
    assert "[remote rejected] main -> main (pre-receive hook declined)" in output
    assert took < 10.0, output  # the build and the refusal, not the deploy timeout


@pytest.fixture
def builder_overrides(wheel_index):
    """Builds run offline on the test's wheelhouse, served on loopback."""
    return {
        "build_env": {
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": wheel_index,
            "PIP_CONFIG_FILE": os.devnull,
            "npm_config_offline": "true",
        },
    }


async def _slug_files(builder, app, sha):
    local = builder.ctx.settings.data_dir / f"{sha}.tgz"
    await builder.ctx.store.get_file(key=keys.slug_key(app, sha[:7]), path=local)
    with tarfile.open(local) as tar:
        return set(tar.getnames())


async def test_a_python_push_installs_its_requirements_then_reuses_them(
    own_app, builder, controller, rollouts, add_wheel, app_name
):
    add_wheel("greeting", "1.0")
    dev, wc = await own_app()
    first_sha = await wc.commit(
        {
            "requirements.txt": "greeting==1.0\n",
            "Procfile": "web: python app.py\nworker: python worker.py\n",
            "app.py": "import greeting\n",
        }
    )

    first = await wc.push()
    await wc.commit({"app.py": "import greeting  # changed\n"})
    second = await wc.push()

    assert first.code == 0, first.output
    assert "-----> Python app detected" in first.output
    assert "-----> Installing requirements" in first.output
    assert "Procfile declares types -> web, worker" in first.output
    assert "./.deis/python/greeting/__init__.py" in await _slug_files(builder, app_name, first_sha)
    assert second.code == 0, second.output
    assert "Requirements unchanged; reusing the cached dependencies" in second.output
    assert "Installing requirements" not in second.output
    assert f"done, {app_name} v3" in second.output
    procfile = controller.builds(dev.token, app_name)[0]["procfile"]
    assert procfile == {"web": "python app.py", "worker": "python worker.py"}


async def test_a_python_push_without_a_procfile_is_rejected(own_app, controller, app_name):
    dev, wc = await own_app()
    await wc.commit({"requirements.txt": "", "app.py": "print('hi')\n"})

    pushed = await wc.push()

    assert pushed.code != 0
    assert "no Procfile: a Python app needs one" in pushed.output
    assert controller.builds(dev.token, app_name) == []


async def test_a_node_push_defaults_to_npm_start(own_app, controller, rollouts, app_name):
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    dev, wc = await own_app()
    await wc.commit(
        {
            "package.json": json.dumps({"name": "web", "scripts": {"start": "node index.js"}}),
            "index.js": "console.log('hi')\n",
        }
    )

    pushed = await wc.push()

    assert pushed.code == 0, pushed.output
    assert "-----> Node.js app detected" in pushed.output
    assert controller.builds(dev.token, app_name)[0]["procfile"] == {"web": "npm start"}


@pytest.fixture
def short_builds(builder_overrides):
    builder_overrides["build_timeout"] = 0.05


@pytest.mark.usefixtures("short_builds")
async def test_a_build_past_its_time_limit_is_stopped_and_rejected(
    own_app, builder, controller, add_wheel, app_name
):
    add_wheel("greeting", "1.0")
    dev, wc = await own_app()
    await wc.commit({"requirements.txt": "greeting==1.0\n", "Procfile": "web: python app.py\n"})

    pushed = await wc.push()

    assert pushed.code != 0
    assert "the build ran past its time limit" in pushed.output, pushed.output
    assert controller.builds(dev.token, app_name) == []
    assert list((builder.ctx.settings.data_dir / "builds").iterdir()) == []
