"""Hostile input against the object store's security boundary: keys, prefixes, paths."""

import os
from pathlib import Path

import pytest

from deis_shared.objectstore import errors, keys

GOOD_KEYS = [
    "slugs/myapp/0a1b2c3d.tar.gz",
    "sources/my-app/0a1b2c3d.tar.gz",
    "logs/myapp/2024/01/02/03.log.gz",
    "single",
    ".hidden",
    "a..b",
    "..a/b..",
    "-/_/.x",
    "k" * keys.MAX_KEY_LENGTH,
]

HOSTILE_KEYS = [
    "",
    "/",
    "/etc/passwd",
    "//server/share",
    ".",
    "..",
    "../x",
    "a/../../x",
    "a/./b",
    "a//b",
    "a/",
    "a\\..\\b",
    "C:/x",
    "a\x00b",
    "a\nb",
    "a\rb",
    "a\tb",
    "a\x1bb",
    "a\x7fb",
    "a b",
    "~/x",
    "a/b~",
    "$HOME/x",
    "a;rm -rf",
    "café",
    "a\u2215b",  # division slash, looks like '/'
    "k" * (keys.MAX_KEY_LENGTH + 1),
]


@pytest.mark.parametrize("key", GOOD_KEYS)
def test_good_keys_pass_unchanged(key: str) -> None:
    assert keys.validate_key(key) == key
    assert keys.is_valid_key(key)


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_hostile_keys_are_refused(key: str) -> None:
    with pytest.raises(errors.InvalidKey):
        keys.validate_key(key)
    assert not keys.is_valid_key(key)


@pytest.mark.parametrize("key", [None, b"slugs/a", 3])
def test_non_strings_are_refused(key: object) -> None:
    with pytest.raises(errors.InvalidKey):
        keys.validate_key(key)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidKey):
        keys.validate_prefix(key)  # type: ignore[arg-type]


@pytest.mark.parametrize("prefix", ["logs/app/", "logs/app", "logs/", "l", "logs/app/2024/01/"])
def test_good_prefixes_pass_unchanged(prefix: str) -> None:
    assert keys.validate_prefix(prefix) == prefix


@pytest.mark.parametrize(
    "prefix", ["", "/", "//", "logs//", "logs/app//", "../", "logs/../", "./", "/logs/", "a b/"]
)
def test_hostile_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(errors.InvalidKey):
        keys.validate_prefix(prefix)


def test_path_under_joins_valid_keys(tmp_path: Path) -> None:
    assert keys.path_under(tmp_path, "slugs/app/x.tar.gz") == tmp_path / "slugs/app/x.tar.gz"


@pytest.mark.parametrize("key", ["../x", "a/../../x", "/etc/passwd", "a\x00b", ""])
def test_path_under_refuses_invalid_keys(tmp_path: Path, key: str) -> None:
    with pytest.raises(errors.InvalidKey):
        keys.path_under(tmp_path / "root", key)


def test_path_under_refuses_symlinked_folder_leading_out(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "logs").symlink_to(outside)
    with pytest.raises(errors.InvalidKey, match="outside"):
        keys.path_under(root, "logs/x.log.gz")


def test_path_under_refuses_symlinked_file_leading_out(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret").write_text("s")
    (root / "innocent").symlink_to(tmp_path / "secret")
    with pytest.raises(errors.InvalidKey):
        keys.path_under(root, "innocent")


def test_path_under_refuses_absolute_symlink_and_root_itself(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "etc").symlink_to("/etc")
    (root / "self").symlink_to(".")
    with pytest.raises(errors.InvalidKey):
        keys.path_under(root, "etc/passwd")
    with pytest.raises(errors.InvalidKey):
        keys.path_under(root, "self")


def test_path_under_refuses_symlink_loops(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "a").symlink_to(root / "b")
    (root / "b").symlink_to(root / "a")
    with pytest.raises(errors.InvalidKey):
        keys.path_under(root, "a/x")


def test_path_under_allows_symlinks_staying_inside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    (root / "alias").symlink_to(root / "real")
    assert keys.path_under(root, "alias/x") == root / "alias" / "x"


def test_path_under_works_through_a_symlinked_root(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "real")
    assert keys.path_under(link, "a/b") == link / "a" / "b"
    assert os.path.realpath(keys.path_under(link, "a/b")).startswith(str(tmp_path / "real"))


def test_source_and_slug_keys():
    assert keys.source_key("myapp", "abc1234") == "sources/myapp/abc1234.tar.gz"
    assert keys.slug_key("myapp", "abc1234") == "slugs/myapp/abc1234.tar.gz"


@pytest.mark.parametrize("app", ["../etc", "a/b", "", "."])
def test_source_and_slug_keys_refuse_escapes(app):
    with pytest.raises(errors.InvalidKey):
        keys.slug_key(app, "abc1234")
    with pytest.raises(errors.InvalidKey):
        keys.source_key(app, "abc1234")


def test_log_archive_keys():
    from datetime import UTC, datetime, timedelta, timezone

    hour = datetime(2024, 5, 1, 9, 59, 59, tzinfo=UTC)
    assert keys.log_archive_key("myapp", hour) == "logs/myapp/2024/05/01/09.log.gz"
    east = hour.astimezone(timezone(timedelta(hours=5)))
    assert keys.log_archive_key("myapp", east) == "logs/myapp/2024/05/01/09.log.gz"
    assert keys.log_archive_prefix("myapp") == "logs/myapp/"
    with pytest.raises(errors.InvalidKey):
        keys.log_archive_prefix("../x")
    with pytest.raises(errors.InvalidKey):
        keys.log_archive_key("a/b", hour)
    with pytest.raises(ValueError, match="aware"):
        keys.log_archive_key("myapp", datetime(2024, 5, 1))  # noqa: DTZ001 -- refused on purpose
