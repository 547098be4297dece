"""Pushes through the real git and ssh clients: build, slug, release, rollout, history."""

import asyncio
import tarfile

import asyncpg

from deis_shared.objectstore import keys

STATIC = {"index.html": "<h1>hello</h1>\n"}


async def test_first_push_builds_stores_a_slug_and_ends_with_the_release(
    builder, controller, developer, working_copy, rollouts, app_name, platform_dsn
):
    dev = developer()
    controller.create_app(dev.token, app_name)
    wc = await working_copy(dev, builder, app_name)
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
    conn = await asyncpg.connect(platform_dsn)
    try:
        row = await conn.fetchrow(
            "SELECT username, sha, result, version, buildpack FROM builder.pushes WHERE app = $1",
            app_name,
        )
    finally:
        await conn.close()
    assert dict(row) == {
        "username": dev.username,
        "sha": sha,
        "result": "succeeded",
        "version": 2,
        "buildpack": "static",
    }
