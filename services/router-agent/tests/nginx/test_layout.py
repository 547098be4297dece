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
