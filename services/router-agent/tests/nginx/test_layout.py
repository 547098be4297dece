# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""Releases on disk: written whole, swapped atomically, pruned; keys private."""

import stat

from cryptography import x509

from deis_router_agent.domain import hosting, keypairs
from deis_router_agent.nginx.layout import Layout


def test_releases_swap_and_prune_and_keys_are_private(tmp_path):
    layout = Layout(tmp_path / "router")
    layout.prepare(owner=None)
    for revision in (1, 2, 3, 4):
        layout.write_release(revision=revision, main=f"# main {revision}\n")
        layout.swap(revision)
        assert layout.current.resolve() == layout.release(revision)
        assert (layout.current / "nginx.conf").read_text() == f"# main {revision}\n"
        assert layout.holds(revision, main=f"# main {revision}\n")
        assert not layout.holds(revision, main="# other\n")
    assert stat.S_IMODE(layout.releases.stat().st_mode) == 0o700
    assert stat.S_IMODE(layout.tls.stat().st_mode) == 0o700

    layout.prune(keep=2)
    assert sorted(p.name for p in layout.releases.iterdir()) == ["3", "4"]

    layout.prepare(owner=None)  # a new agent starts from nothing
    assert list(layout.releases.iterdir()) == []
    assert not layout.current.exists()


def test_the_fallback_pair_is_made_once_and_old_app_files_go(tmp_path):
    layout = Layout(tmp_path / "router")
    old_app_files = layout.tls / "shop"  # where earlier versions kept apps' certificates
    old_app_files.mkdir(parents=True)
    (old_app_files / "c-1.key").write_text("KEY")
    layout.prepare(owner=None)
    fallback = layout.tls / hosting.FALLBACK
    assert stat.S_IMODE(fallback.stat().st_mode) == 0o600
    pem = fallback.read_bytes()
    chain, _ = keypairs.load(pem, pem)  # one file: the key, then the certificate
    assert chain[0].subject.rfc4514_string() == "CN=deis-router-fallback"
    assert isinstance(chain[0], x509.Certificate)
    assert not old_app_files.exists()

    layout.prepare(owner=None)
    assert fallback.read_bytes() == pem  # kept across starts
