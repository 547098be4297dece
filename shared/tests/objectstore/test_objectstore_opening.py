"""open_store and open_store_from_settings pick, open and close the configured backend."""

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from deis_shared import settings
from deis_shared.objectstore import filesystem, opening, s3
from deis_testing.s3 import S3Server


def state_of(store: s3.S3Store) -> s3.State:
    return store.state  # a call, so mypy does not narrow across awaits


async def test_filesystem_store_creates_its_root(tmp_path: Path) -> None:
    root = tmp_path / "data" / "objects"
    async with opening.open_store(kind="filesystem", root=root) as store:
        assert isinstance(store, filesystem.FilesystemStore)
        assert root.is_dir()
        assert stat.S_IMODE(root.stat().st_mode) == 0o750
        await store.put_bytes(key="a", data=b"a")
    assert (root / "a").read_bytes() == b"a"


async def test_s3_store_is_opened_and_closed(
    s3_server: S3Server, unique: str, tmp_path: Path
) -> None:
    async with opening.open_store(
        kind="s3",
        root=tmp_path / "unused",
        endpoint_url=s3_server.endpoint_url,
        bucket=unique,
        region=s3_server.region,
        access_key_id=s3_server.access_key,
        secret_access_key=s3_server.secret_key,
    ) as store:
        assert isinstance(store, s3.S3Store)
        assert state_of(store) is s3.State.OPEN
        await store.put_bytes(key="a", data=b"a")
        assert await store.get_bytes("a") == b"a"
    assert state_of(store) is s3.State.CLOSED
    assert not (tmp_path / "unused").exists()


async def test_from_settings_s3(s3_server: S3Server, unique: str) -> None:
    config = settings.ServiceSettings(
        object_store="s3",
        s3_endpoint_url=s3_server.endpoint_url,
        s3_bucket=unique,
        s3_region=s3_server.region,
        s3_access_key_id=SecretStr(s3_server.access_key),
        s3_secret_access_key=SecretStr(s3_server.secret_key),
    )
    async with opening.open_store_from_settings(config) as store:
        assert isinstance(store, s3.S3Store)
        assert store.bucket == unique
        await store.put_bytes(key="k", data=b"v")
        assert await store.exists("k")


async def test_from_settings_filesystem(tmp_path: Path) -> None:
    config = settings.ServiceSettings(object_store="filesystem", object_store_root=tmp_path / "o")
    async with opening.open_store_from_settings(config) as store:
        assert isinstance(store, filesystem.FilesystemStore)
        assert store.root == tmp_path / "o"


async def test_from_settings_none_is_refused() -> None:
    config = settings.ServiceSettings(object_store="none")
    with pytest.raises(ValueError, match="none"):
        async with opening.open_store_from_settings(config):
            pass


async def test_unknown_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown"):
        async with opening.open_store(kind="ftp", root=tmp_path):  # type: ignore[arg-type]
            pass
