import os
from pathlib import Path

from deis_builder.buildpacks import caching, output, sandboxing
from deis_shared.sandbox import Sandbox
from deis_testing import traversable


def test_keys_tell_apart_how_inputs_are_split() -> None:
    assert caching.key_of("ab", "c") != caching.key_of("a", "bc")
    assert caching.key_of(b"x", "y") == caching.key_of("x", b"y")


def _cache(space: sandboxing.Workspace, sandbox: Sandbox) -> caching.TreeCache:
    env = sandboxing.environment({}, home=space.home)
    return caching.TreeCache(space.cache_dir / "python", "site", sandbox=sandbox, env=env)


def _owned(path: Path, uid: int | None) -> Path:
    if uid is not None:
        for root, dirs, files in os.walk(path):
            for name in [*dirs, *files]:
                os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)
        os.chown(path, uid, uid)
    return path


async def test_store_then_restore(
    space: sandboxing.Workspace, sandbox: Sandbox, out: output.Output
) -> None:
    source = space.tree / "built"
    (source / "pkg").mkdir(parents=True)
    (source / "pkg/mod.py").write_text("one")
    (source / "link").symlink_to("pkg/mod.py")
    _owned(source, space.uid)
    cache = _cache(space, sandbox)
    assert not await cache.holds("k1")

    await cache.store(key="k1", source=source, out=out)
    assert await cache.holds("k1")
    assert not await cache.holds("k2")
    assert (cache.tree / "pkg/mod.py").stat().st_ino != (source / "pkg/mod.py").stat().st_ino

    restored = space.app_dir / ".deis/site"
    await cache.restore(into=restored, out=out)
    assert (restored / "pkg/mod.py").read_text() == "one"
    assert (restored / "link").is_symlink()


async def test_store_replaces_the_tree_and_leaves_no_staging(
    space: sandboxing.Workspace, sandbox: Sandbox, out: output.Output
) -> None:
    cache = _cache(space, sandbox)
    first, second = space.tree / "first", space.tree / "second"
    first.mkdir()
    (first / "old.py").write_text("")
    second.mkdir()
    (second / "new.py").write_text("")
    (cache.root / ".tmp-crashed").mkdir(parents=True)
    for path in (first, second, cache.root):
        _owned(path, space.uid)

    await cache.store(key="k1", source=first, out=out)
    await cache.store(key="k2", source=second, out=out)
    assert await cache.holds("k2")
    assert not await cache.holds("k1")
    assert sorted(p.name for p in cache.tree.iterdir()) == ["new.py"]
    assert sorted(p.name for p in cache.root.iterdir()) == ["key", "site"]


async def test_missing_source_stores_an_empty_tree(
    space: sandboxing.Workspace, sandbox: Sandbox, out: output.Output
) -> None:
    cache = _cache(space, sandbox)
    await cache.store(key="k", source=space.tree / "nothing", out=out)
    assert await cache.holds("k")
    assert list(cache.tree.iterdir()) == []


async def test_links_planted_in_the_cache_lead_nowhere_outside(
    space: sandboxing.Workspace, sandbox: Sandbox, out: output.Output, tmp_path: Path
) -> None:
    # What an earlier build's install script could leave: the cache's tree and key as links
    # to the builder's files. Root following them would copy those files into the slug.
    secret = traversable(tmp_path / "builder-data") / "secret"
    secret.write_text("k\n")
    secret.chmod(0o644)
    cache = _cache(space, sandbox)
    cache.root.mkdir()
    (cache.root / "site").symlink_to(secret.parent)
    (cache.root / "key").symlink_to(secret)
    _owned(cache.root, space.uid)

    assert not await cache.holds("k\n")
    restored = space.app_dir / ".deis/site"
    await cache.store(key="k2", source=space.tree / "nothing", out=out)
    await cache.restore(into=restored, out=out)
    assert list(restored.iterdir()) == []
    assert secret.read_text() == "k\n"
