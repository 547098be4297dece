# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""Releases on disk under a live agent: each one whole, only the changed apps written (the
others hard links to the live release's files), earlier releases untouched, old ones pruned."""

APPS = ("one", "two", "three")


async def served(edge, host):
    response = await edge.get(host)
    return response.status_code == 200 and response.json()["name"] == "web"


def files(layout, revision):
    """Each app file of a release: (contents, inode)."""
    apps = layout.release(revision) / "apps"
    return {path.name: (path.read_text(), path.stat().st_ino) for path in apps.iterdir()}


async def test_a_release_writes_the_changed_app_and_links_the_others(edge, upstreams, until):
    web = upstreams("web")
    for app in APPS:
        await edge.route(app)
        await edge.serve(app, web.port)
    for app in APPS:
        await until(lambda app=app: served(edge, f"{app}.localhost"))
    await edge.settled()
    layout, applier = edge.router.ctx.layout, edge.router.applier
    before = applier.release
    assert before is not None
    earlier = files(layout, before)
    assert set(earlier) == {f"{app}.conf" for app in APPS}

    await edge.route("two", domains=["two.example.com"])
    await until(lambda: served(edge, "two.example.com"))
    await edge.settled()
    after = applier.release
    assert after is not None and after > before
    now = files(layout, after)
    assert set(now) == set(earlier)  # whole
    assert "two.example.com" in now["two.conf"][0]
    assert now["two.conf"][1] != earlier["two.conf"][1]  # written anew
    assert now["one.conf"] == earlier["one.conf"]  # the same file: a link
    assert now["three.conf"] == earlier["three.conf"]
    assert files(layout, before) == earlier  # the previous release is as it was

    for index in range(4):
        await edge.route("one", domains=[f"one{index}.example.com"])
        await until(lambda index=index: served(edge, f"one{index}.example.com"))
    await edge.settled()
    kept = sorted(int(path.name) for path in layout.releases.iterdir())
    assert len(kept) == edge.settings.keep_releases
    assert kept[-1] == applier.release
    assert before not in kept and after not in kept
    for revision in kept:
        release = files(layout, revision)
        assert set(release) == set(earlier)
        assert release["two.conf"] == now["two.conf"]
        assert release["three.conf"] == earlier["three.conf"]
    assert "one3.example.com" in files(layout, kept[-1])["one.conf"][0]
    assert "one2.example.com" in files(layout, kept[-2])["one.conf"][0]
