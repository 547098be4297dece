"""One contract, both backends: every behaviour callers rely on, run on filesystem and S3."""

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from deis_shared.objectstore import base, errors, filesystem, s3

BIG_FILE_SIZE = 6 * 1024 * 1024 + 12345  # above S3's 5 MiB part: a multipart upload


@pytest.fixture(params=["filesystem", pytest.param("s3", marks=pytest.mark.integration)])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, unique: str
) -> AsyncIterator[base.ObjectStore]:
    if request.param == "filesystem":
        yield filesystem.FilesystemStore(tmp_path / "objects")
        return
    server = request.getfixturevalue("s3_server")
    async with s3.S3Store(
        bucket=unique,
        endpoint_url=server.endpoint_url,
        region=server.region,
        access_key_id=server.access_key,
        secret_access_key=server.secret_key,
        part_size=s3.MIN_PART_SIZE,
    ) as opened:
        yield opened


async def listed(store: base.ObjectStore, prefix: str) -> list[str]:
    return [key async for key in store.list(prefix)]


def write_random_file(path: Path, size: int) -> str:
    data = os.urandom(size)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_bytes_round_trip(store: base.ObjectStore) -> None:
    await store.put_bytes(key="sources/app/abc.tar.gz", data=b"\x00payload\xff")
    assert await store.get_bytes("sources/app/abc.tar.gz") == b"\x00payload\xff"
    assert await store.size("sources/app/abc.tar.gz") == 9
    assert await store.exists("sources/app/abc.tar.gz")


async def test_empty_object_round_trip(store: base.ObjectStore) -> None:
    await store.put_bytes(key="empty", data=b"")
    assert await store.get_bytes("empty") == b""
    assert await store.size("empty") == 0
    assert await store.exists("empty")


async def test_overwrite_replaces_content(store: base.ObjectStore) -> None:
    await store.put_bytes(key="slugs/app/s.tar.gz", data=b"first version")
    await store.put_bytes(key="slugs/app/s.tar.gz", data=b"second")
    assert await store.get_bytes("slugs/app/s.tar.gz") == b"second"
    assert await store.size("slugs/app/s.tar.gz") == 6
    assert await listed(store, "slugs/") == ["slugs/app/s.tar.gz"]


async def test_big_file_round_trip(store: base.ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "slug.tar.gz"
    expected = await asyncio.to_thread(write_random_file, source, BIG_FILE_SIZE)
    await store.put_file(key="slugs/app/0a1b2c.tar.gz", path=source)
    assert await store.size("slugs/app/0a1b2c.tar.gz") == BIG_FILE_SIZE

    target = tmp_path / "cache" / "nested" / "slug.tar.gz"  # parents created on demand
    await store.get_file(key="slugs/app/0a1b2c.tar.gz", path=target)
    assert await asyncio.to_thread(digest, target) == expected
    assert sorted(os.listdir(target.parent)) == ["slug.tar.gz"]  # no temp file left behind


async def test_small_file_round_trip_and_overwrite(store: base.ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "a.log"
    source.write_bytes(b"line one\n")
    await store.put_file(key="logs/app/2024/01/02/03.log.gz", path=source)
    source.write_bytes(b"line two\n")
    await store.put_file(key="logs/app/2024/01/02/03.log.gz", path=source)

    target = tmp_path / "out.log"
    target.write_bytes(b"stale content that must be replaced")
    await store.get_file(key="logs/app/2024/01/02/03.log.gz", path=target)
    assert target.read_bytes() == b"line two\n"


async def test_put_file_of_missing_source_is_the_callers_error(
    store: base.ObjectStore, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError):
        await store.put_file(key="sources/app/x.tar.gz", path=tmp_path / "absent")
    assert not await store.exists("sources/app/x.tar.gz")


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda st, _: st.get_bytes("slugs/app/missing"), id="get_bytes"),
        pytest.param(lambda st, _: st.size("slugs/app/missing"), id="size"),
        pytest.param(lambda st, out: st.get_file(key="slugs/app/missing", path=out), id="get_file"),
    ],
)
async def test_missing_object_is_not_found(
    store: base.ObjectStore,
    tmp_path: Path,
    read: Callable[[base.ObjectStore, Path], Awaitable[object]],
) -> None:
    await store.put_bytes(key="slugs/app/present", data=b"x")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(errors.ObjectNotFound) as caught:
        await read(store, out_dir / "slug")
    assert caught.value.key == "slugs/app/missing"
    assert os.listdir(out_dir) == []  # get_file left neither the target nor a temp file


async def test_folder_is_not_an_object(store: base.ObjectStore) -> None:
    await store.put_bytes(key="logs/app/2024/x.log.gz", data=b"x")
    assert not await store.exists("logs/app")
    with pytest.raises(errors.ObjectNotFound):
        await store.get_bytes("logs/app/2024")
    with pytest.raises(errors.ObjectNotFound):
        await store.size("logs/app")


async def test_exists_and_delete(store: base.ObjectStore) -> None:
    assert not await store.exists("sources/app/a.tar.gz")
    await store.delete("sources/app/a.tar.gz")  # missing is fine
    await store.put_bytes(key="sources/app/a.tar.gz", data=b"a")
    await store.put_bytes(key="sources/app/b.tar.gz", data=b"b")
    await store.delete("sources/app/a.tar.gz")
    assert not await store.exists("sources/app/a.tar.gz")
    assert await store.exists("sources/app/b.tar.gz")
    await store.delete("sources/app/a.tar.gz")  # twice is fine too
    await store.delete("sources/app/b.tar.gz")
    assert await listed(store, "sources/") == []
    await store.put_bytes(key="sources/app/b.tar.gz", data=b"again")  # folder usable again
    assert await store.get_bytes("sources/app/b.tar.gz") == b"again"


LOG_KEYS = [
    "logs/app/2024/01/02/03.log.gz",
    "logs/app/2024/01/01/23.log.gz",
    "logs/app/2023/12/31/00.log.gz",
    "logs/app2/2024/01/01/00.log.gz",
    "logs/app.old",
    "logs/ap/2024/01/01/00.log.gz",
    "slugs/app/0a.tar.gz",
]


async def put_all(store: base.ObjectStore, keys: list[str]) -> None:
    await asyncio.gather(*(store.put_bytes(key=key, data=key.encode()) for key in keys))


async def test_list_folder_prefix_is_sorted_and_does_not_leak(store: base.ObjectStore) -> None:
    await put_all(store, LOG_KEYS)
    assert await listed(store, "logs/app/") == [
        "logs/app/2023/12/31/00.log.gz",
        "logs/app/2024/01/01/23.log.gz",
        "logs/app/2024/01/02/03.log.gz",
    ]
    assert await listed(store, "logs/app/2024/01/01/") == ["logs/app/2024/01/01/23.log.gz"]
    assert await listed(store, "logs/nobody/") == []
    assert await listed(store, "nothing/") == []


async def test_list_character_prefix_matches_like_s3(store: base.ObjectStore) -> None:
    await put_all(store, LOG_KEYS)
    # Byte order: '.' < '/' < '2', so the plain-file sibling sorts before the folder.
    assert await listed(store, "logs/app") == [
        "logs/app.old",
        "logs/app/2023/12/31/00.log.gz",
        "logs/app/2024/01/01/23.log.gz",
        "logs/app/2024/01/02/03.log.gz",
        "logs/app2/2024/01/01/00.log.gz",
    ]
    assert await listed(store, "slugs/app/0a.tar.gz") == ["slugs/app/0a.tar.gz"]


async def test_delete_prefix_counts_and_spares_siblings(store: base.ObjectStore) -> None:
    await put_all(store, LOG_KEYS)
    assert await store.delete_prefix("logs/app/") == 3
    assert await listed(store, "logs/") == [
        "logs/ap/2024/01/01/00.log.gz",
        "logs/app.old",
        "logs/app2/2024/01/01/00.log.gz",
    ]
    assert await store.delete_prefix("logs/app/") == 0
    assert await store.exists("slugs/app/0a.tar.gz")


HOSTILE_KEYS = [
    "",
    "/etc/passwd",
    "../outside",
    "logs/../../outside",
    "logs/./x",
    "logs//x",
    "logs/app/",
    "logs\\app",
    "logs/a\x00b",
    "logs/a\nb",
    "logs/a b",
    "logs/é",
    "x" * 1025,
]

OPERATIONS: dict[str, Callable[[base.ObjectStore, str, Path], Awaitable[object]]] = {
    "put_bytes": lambda st, key, _: st.put_bytes(key=key, data=b"x"),
    "get_bytes": lambda st, key, _: st.get_bytes(key),
    "put_file": lambda st, key, src: st.put_file(key=key, path=src),
    "get_file": lambda st, key, src: st.get_file(key=key, path=src.parent / "out"),
    "exists": lambda st, key, _: st.exists(key),
    "delete": lambda st, key, _: st.delete(key),
    "size": lambda st, key, _: st.size(key),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
async def test_hostile_keys_are_refused(
    store: base.ObjectStore, tmp_path: Path, operation: str
) -> None:
    source = tmp_path / "src"
    source.write_bytes(b"x")
    for key in HOSTILE_KEYS:
        with pytest.raises(errors.InvalidKey):
            await OPERATIONS[operation](store, key, source)
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "outside").exists()


@pytest.mark.parametrize("prefix", ["", "/", "../", "logs//", "logs/../", "logs/a b/"])
async def test_hostile_prefixes_are_refused(store: base.ObjectStore, prefix: str) -> None:
    await store.put_bytes(key="logs/app/x", data=b"x")
    with pytest.raises(errors.InvalidKey):
        await listed(store, prefix)
    with pytest.raises(errors.InvalidKey):
        await store.delete_prefix(prefix)
    assert await store.exists("logs/app/x")
