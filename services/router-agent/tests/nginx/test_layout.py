# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""Releases on disk: written whole, swapped atomically, pruned; keys private."""

import stat

from deis_router_agent.domain.rendering import AppConfig
from deis_router_agent.nginx.layout import Layout


def test_releases_swap_and_prune_and_keys_are_private(tmp_path):
    layout = Layout(tmp_path / "router")
    layout.prepare(owner=None)
    key = layout.tls / "shop" / "c-1.key"
    for revision in (1, 2, 3, 4):
        config = AppConfig(app="shop", text=f"# {revision}\n", tls_files={key: "KEY"})
        layout.write_release(revision=revision, main="# main\n", apps=[config])
        layout.swap(revision)
        assert layout.current.resolve() == layout.release(revision)
        assert (layout.current / "apps" / "shop.conf").read_text() == f"# {revision}\n"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(layout.releases.stat().st_mode) == 0o700
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700

    layout.prune(keep=2, tls_in_use=set())
    assert sorted(p.name for p in layout.releases.iterdir()) == ["3", "4"]
    assert not key.exists()

    layout.prepare(owner=None)  # a new agent starts from nothing
    assert list(layout.releases.iterdir()) == []
    assert not layout.current.exists()


def test_a_release_links_unchanged_files_and_a_rewrite_replaces_the_link(tmp_path):
    layout = Layout(tmp_path / "router")
    layout.prepare(owner=None)
    one, two = AppConfig(app="one", text="# one 1\n"), AppConfig(app="two", text="# two 1\n")
    layout.write_release(revision=1, main="# main\n", apps=[one, two])
    first, second = layout.release(1) / "apps", layout.release(2) / "apps"
    changed = AppConfig(app="two", text="# two 2\n")
    layout.write_release(revision=2, main="# main\n", apps=[one, changed], base=1, changed={"two"})
    assert (second / "one.conf").stat().st_ino == (first / "one.conf").stat().st_ino
    assert stat.S_IMODE((second / "one.conf").stat().st_mode) == 0o600
    assert (second / "two.conf").read_text() == "# two 2\n"
    assert (first / "two.conf").read_text() == "# two 1\n"

    # A fallback rewrites a linked file in the new release: the earlier release keeps its own.
    layout.write_app(revision=2, config=AppConfig(app="one", text="# one fallback\n"))
    assert (second / "one.conf").read_text() == "# one fallback\n"
    assert (first / "one.conf").read_text() == "# one 1\n"
    layout.remove_app(revision=2, app="two")
    layout.discard(2)
    assert sorted(p.name for p in first.iterdir()) == ["one.conf", "two.conf"]
    assert (first / "two.conf").read_text() == "# two 1\n"

    # An app whose file is missing from the base is written, and so is all without a base.
    three = AppConfig(app="three", text="# three\n")
    layout.write_release(revision=3, main="# main\n", apps=[one, three], base=1)
    layout.write_release(revision=4, main="# main\n", apps=[one, three], base=99)
    for revision in (3, 4):
        apps = layout.release(revision) / "apps"
        assert {p.name: p.read_text() for p in apps.iterdir()} == {
            "one.conf": "# one 1\n",
            "three.conf": "# three\n",
        }
    assert (layout.release(3) / "apps" / "one.conf").stat().st_nlink == 2  # 1's and 3's
    assert (layout.release(4) / "apps" / "one.conf").stat().st_nlink == 1
