from pathlib import Path

from deis_builder.buildpacks import caching


def test_keys_tell_apart_how_inputs_are_split() -> None:
    assert caching.key_of("ab", "c") != caching.key_of("a", "bc")
    assert caching.key_of(b"x", "y") == caching.key_of("x", b"y")


async def test_store_then_restore(tmp_path: Path) -> None:
    source = tmp_path / "built"
    (source / "pkg").mkdir(parents=True)
    (source / "pkg/mod.py").write_text("one")
    (source / "link").symlink_to("pkg/mod.py")
    cache = caching.TreeCache(tmp_path / "cache", "site")
    assert not cache.holds("k1")

    await cache.store(key="k1", source=source)
    assert cache.holds("k1")
    assert not cache.holds("k2")

    restored = tmp_path / "slug/.deis/site"
    await cache.restore(into=restored)
    assert (restored / "pkg/mod.py").read_text() == "one"
    assert (restored / "link").is_symlink()


async def test_store_replaces_the_tree_and_leaves_no_staging(tmp_path: Path) -> None:
    cache = caching.TreeCache(tmp_path / "cache", "site")
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    (first / "old.py").write_text("")
    second.mkdir()
    (second / "new.py").write_text("")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache/.tmp-crashed").mkdir()

    await cache.store(key="k1", source=first)
    await cache.store(key="k2", source=second)
    assert cache.holds("k2")
    assert not cache.holds("k1")
    assert sorted(p.name for p in cache.tree.iterdir()) == ["new.py"]
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["key", "site"]


async def test_missing_source_stores_an_empty_tree(tmp_path: Path) -> None:
    cache = caching.TreeCache(tmp_path / "cache", "site")
    await cache.store(key="k", source=tmp_path / "nothing")
    assert cache.holds("k")
    assert list(cache.tree.iterdir()) == []
