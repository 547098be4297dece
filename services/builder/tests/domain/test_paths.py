"""Paths under the builder's data directory against hostile names and planted symlinks."""

import pytest

from deis_builder.domain import paths
from deis_builder.errors import Refused


def test_repo_and_cache_paths_sit_under_their_roots(tmp_path):
    assert paths.repo_path(tmp_path, "myapp") == tmp_path / "myapp.git"
    assert paths.cache_path(tmp_path, "myapp") == tmp_path / "myapp"


@pytest.mark.parametrize("app", ["", "..", ".", "a/b", "../etc", "MyApp", "a\x00b", "/etc", "-x"])
def test_hostile_app_names_are_refused(tmp_path, app):
    with pytest.raises(Refused):
        paths.repo_path(tmp_path, app)
    with pytest.raises(Refused):
        paths.cache_path(tmp_path, app)


@pytest.mark.parametrize("segment", ["", ".", "..", "a/b", "a\x00"])
def test_path_under_refuses_non_segments(tmp_path, segment):
    with pytest.raises(Refused):
        paths.path_under(tmp_path, segment)


def test_a_planted_symlink_cannot_lead_outside(tmp_path):
    root = tmp_path / "repos"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "myapp.git").symlink_to(outside)
    with pytest.raises(Refused, match="outside"):
        paths.repo_path(root, "myapp")
