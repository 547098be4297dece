"""FilesystemStore specifics: the root boundary on disk, permissions, atomic writes, pruning."""

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from deis_shared.objectstore import errors, filesystem, staging


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def strict_umask() -> Iterator[None]:
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


async def test_symlinked_folder_leading_out_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "victim").write_bytes(b"secret")
    (root / "logs").symlink_to(outside)
    store = filesystem.FilesystemStore(root)

    with pytest.raises(errors.InvalidKey):
        await store.put_bytes(key="logs/planted", data=b"x")
    with pytest.raises(errors.InvalidKey):
        await store.get_bytes("logs/victim")
    with pytest.raises(errors.InvalidKey):
        await store.delete("logs/victim")
    with pytest.raises(errors.InvalidKey):
        await store.delete_prefix("logs/")
    assert sorted(os.listdir(outside)) == ["victim"]
    assert (outside / "victim").read_bytes() == b"secret"


async def test_symlinked_file_leading_out_is_refused_and_not_listed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "slugs").mkdir(parents=True)
    (tmp_path / "secret").write_bytes(b"secret")
    (root / "slugs" / "stolen").symlink_to(tmp_path / "secret")
    store = filesystem.FilesystemStore(root)

    with pytest.raises(errors.InvalidKey):
        await store.get_file(key="slugs/stolen", path=tmp_path / "copy")
    with pytest.raises(errors.InvalidKey):
        await store.put_bytes(key="slugs/stolen", data=b"overwrite")
    assert [key async for key in store.list("slugs/")] == []
    assert (tmp_path / "secret").read_bytes() == b"secret"
    assert not (tmp_path / "copy").exists()


async def test_invalid_keys_touch_nothing_on_disk(tmp_path: Path) -> None:
    store = filesystem.FilesystemStore(tmp_path / "root")
    with pytest.raises(errors.InvalidKey):
        await store.put_bytes(key="../escaped", data=b"x")
    with pytest.raises(errors.InvalidKey):
        await store.delete_prefix("")
    assert os.listdir(tmp_path) == []  # not even the root was created


async def test_modes_are_0640_and_0750_whatever_the_umask(
    tmp_path: Path, strict_umask: None
) -> None:
    store = filesystem.FilesystemStore(tmp_path / "root")
    await store.put_bytes(key="slugs/app/a.tar.gz", data=b"a")
    source = tmp_path / "src"
    source.write_bytes(b"b")
    await store.put_file(key="sources/app/b.tar.gz", path=source)
    root = tmp_path / "root"
    assert mode_of(root / "slugs/app/a.tar.gz") == 0o640
    assert mode_of(root / "sources/app/b.tar.gz") == 0o640
    for folder in ["", "slugs", "slugs/app", "sources", "sources/app"]:
        assert mode_of(root / folder) == 0o750, folder


async def test_delete_prunes_empty_folders_but_keeps_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = filesystem.FilesystemStore(root)
    await store.put_bytes(key="logs/app/2024/01/01/00.log.gz", data=b"a")
    await store.put_bytes(key="logs/other/x", data=b"b")
    await store.delete("logs/app/2024/01/01/00.log.gz")
    assert sorted(os.listdir(root / "logs")) == ["other"]
    assert await store.delete_prefix("logs/") == 1
    assert root.is_dir()
    assert os.listdir(root) == []


async def test_temp_files_never_list(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = filesystem.FilesystemStore(root)
    await store.put_bytes(key="slugs/app/a", data=b"a")
    (root / "slugs/app" / f"{staging.TEMP_PREFIX}abc123").write_bytes(b"half")
    assert [key async for key in store.list("slugs/")] == ["slugs/app/a"]


async def test_object_and_folder_with_one_name_conflict(tmp_path: Path) -> None:
    store = filesystem.FilesystemStore(tmp_path / "root")
    await store.put_bytes(key="a", data=b"object")
    with pytest.raises(errors.InvalidKey, match="conflicts"):
        await store.put_bytes(key="a/b", data=b"x")
    await store.put_bytes(key="c/d", data=b"x")
    with pytest.raises(errors.InvalidKey, match="conflicts"):
        await store.put_bytes(key="c", data=b"x")
    assert await store.get_bytes("a") == b"object"
    assert [key async for key in store.list("c")] == ["c/d"]


async def test_staged_write_failure_leaves_old_object_and_no_temp(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = filesystem.FilesystemStore(root, fsync=True)
    await store.put_bytes(key="slugs/app/a", data=b"old")
    directory = tmp_path / "gone"
    with pytest.raises(FileNotFoundError):
        await store.put_file(key="slugs/app/a", path=directory / "missing")
    assert await store.get_bytes("slugs/app/a") == b"old"
    assert sorted(os.listdir(root / "slugs/app")) == ["a"]
