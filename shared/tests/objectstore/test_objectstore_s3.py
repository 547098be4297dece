"""S3Store specifics: lifecycle, bucket creation, multipart, batches, an unreachable endpoint."""

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import botocore.exceptions
import pytest
from aiobotocore.session import get_session
from types_aiobotocore_s3 import S3Client

from deis_shared import errors as deis_errors
from deis_shared.objectstore import errors, s3
from deis_testing.ports import free_port
from deis_testing.s3 import S3Server


def make_store(server: S3Server, bucket: str, **options: object) -> s3.S3Store:
    return s3.S3Store(
        bucket=bucket,
        endpoint_url=server.endpoint_url,
        region=server.region,
        access_key_id=server.access_key,
        secret_access_key=server.secret_key,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
async def raw_client(s3_server: S3Server) -> AsyncIterator[S3Client]:
    async with get_session().create_client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        region_name=s3_server.region,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
    ) as client:
        yield client


def state_of(store: s3.S3Store) -> s3.State:
    return store.state  # a call, so mypy does not narrow across awaits


async def test_lifecycle_and_idempotent_close(s3_server: S3Server, unique: str) -> None:
    store = make_store(s3_server, unique)
    await store.close()  # before open
    await store.close()
    assert state_of(store) is s3.State.CLOSED
    with pytest.raises(RuntimeError):
        await store.open()

    store = make_store(s3_server, unique)
    assert state_of(store) is s3.State.NEW
    async with store:
        assert state_of(store) is s3.State.OPEN
        with pytest.raises(RuntimeError):
            await store.open()
        await store.put_bytes(key="a", data=b"a")
    assert state_of(store) is s3.State.CLOSED
    await store.close()  # twice
    with pytest.raises(RuntimeError, match="closed"):
        await store.get_bytes("a")
    with pytest.raises(errors.InvalidKey):  # keys are checked before anything else
        await store.get_bytes("../a")


async def test_open_creates_missing_bucket_and_reuses_existing(
    s3_server: S3Server, unique: str, raw_client: S3Client
) -> None:
    async with make_store(s3_server, unique) as store:
        await store.put_bytes(key="slugs/a", data=b"kept")
    buckets = await raw_client.list_buckets()
    assert unique in [bucket["Name"] for bucket in buckets["Buckets"]]
    async with make_store(s3_server, unique) as again:
        assert await again.get_bytes("slugs/a") == b"kept"


async def test_big_files_go_in_multipart_uploads(
    s3_server: S3Server, unique: str, raw_client: S3Client, tmp_path: Path
) -> None:
    source = tmp_path / "slug"
    size = 2 * s3.MIN_PART_SIZE + 1
    source.write_bytes(b"\x5a" * size)
    async with make_store(s3_server, unique, part_size=s3.MIN_PART_SIZE) as store:
        await store.put_file(key="slugs/app/big.tar.gz", path=source)
        await store.put_file(key="slugs/app/small.tar.gz", path=tmp_path / "slug")
    head = await raw_client.head_object(Bucket=unique, Key="slugs/app/big.tar.gz")
    assert head["ContentLength"] == size
    assert head["ETag"].strip('"').endswith("-3")  # three parts
    uploads = await raw_client.list_multipart_uploads(Bucket=unique)
    assert uploads.get("Uploads", []) == []


async def test_listing_and_delete_prefix_work_in_batches(s3_server: S3Server, unique: str) -> None:
    async with make_store(s3_server, unique, batch_size=10) as store:
        await asyncio.gather(
            *(store.put_bytes(key=f"logs/app/{n:03d}.log.gz", data=b"") for n in range(25))
        )
        await store.put_bytes(key="logs/app2/keep", data=b"")
        listed = [key async for key in store.list("logs/app/")]
        assert listed == [f"logs/app/{n:03d}.log.gz" for n in range(25)]
        assert await store.delete_prefix("logs/app/") == 25
        assert [key async for key in store.list("logs/")] == ["logs/app2/keep"]


async def test_foreign_invalid_keys_are_not_listed_but_purged(
    s3_server: S3Server, unique: str, raw_client: S3Client
) -> None:
    async with make_store(s3_server, unique) as store:
        await raw_client.put_object(Bucket=unique, Key="logs/app/with space", Body=b"x")
        await store.put_bytes(key="logs/app/ok", data=b"x")
        assert [key async for key in store.list("logs/app/")] == ["logs/app/ok"]
        assert await store.delete_prefix("logs/app/") == 2


async def test_stopping_a_listing_early_closes_it(s3_server: S3Server, unique: str) -> None:
    async with make_store(s3_server, unique) as store:
        await store.put_bytes(key="a/1", data=b"")
        await store.put_bytes(key="a/2", data=b"")
        listing = store.list("a/")
        assert await anext(listing) == "a/1"
        await listing.aclose()  # type: ignore[attr-defined]


async def test_unreachable_endpoint_is_transient_and_quick(unique: str) -> None:
    store = s3.S3Store(
        bucket=unique,
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        access_key_id="testing",
        secret_access_key="testing",
        connect_timeout=1.0,
        max_attempts=1,
    )
    started = time.monotonic()
    with pytest.raises(errors.ObjectStoreUnavailable) as caught:
        await store.open()
    assert time.monotonic() - started < 3.0
    assert isinstance(caught.value, deis_errors.TransientError)
    assert isinstance(caught.value.__cause__, botocore.exceptions.EndpointConnectionError)
    assert state_of(store) is s3.State.CLOSED
    await store.close()


def test_part_and_batch_sizes_outside_s3_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="part_size"):
        s3.S3Store(bucket="b", part_size=s3.MIN_PART_SIZE - 1)
    with pytest.raises(ValueError, match="batch_size"):
        s3.S3Store(bucket="b", batch_size=1001)
    with pytest.raises(ValueError, match="batch_size"):
        s3.S3Store(bucket="b", batch_size=0)
