"""`S3Store`: objects in one bucket of an S3 endpoint (MinIO, Ceph RGW, AWS, moto) via aiobotocore.

The store owns one aiobotocore client, opened by `open()` (which also creates the bucket if it
is missing) and closed by `close()`; `State` makes the lifecycle explicit and `close()` is
idempotent. File transfers stream: `put_file` sends parts of `part_size` bytes (multipart upload
above that size, aborted on failure), `get_file` reads the body in chunks into a staged temp file.
botocore and aiohttp exceptions are mapped onto `errors` here, and nowhere else.
"""

import asyncio
import contextlib
import enum
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

import botocore.exceptions
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from deis_shared.objectstore import errors, keys, s3_exceptions, staging

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.literals import BucketLocationConstraintType
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

MIN_PART_SIZE = 5 * 1024 * 1024
"""S3's smallest part of a multipart upload (except the last)."""

MAX_BATCH_SIZE = 1000
"""Most keys S3 lists in one page or deletes in one `delete_objects` request."""

CHUNK_SIZE = 1024 * 1024
"""Bytes written to disk at a time by `get_file`."""


class State(enum.Enum):
    """Lifecycle of an `S3Store`."""

    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


class S3Store:
    """An `ObjectStore` in one S3 bucket; use `async with S3Store(...) as store` or open/close."""

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_attempts: int = 3,
        part_size: int = 8 * 1024 * 1024,
        batch_size: int = MAX_BATCH_SIZE,
    ) -> None:
        """Describe the store; nothing connects before `open()`.

        Args:
            bucket: bucket holding every object; created by `open()` if missing.
            endpoint_url: S3 endpoint; None means AWS. Custom endpoints use path-style URLs.
            region: region name (and the bucket's location when created).
            access_key_id: access key; None means botocore's default credential chain.
            secret_access_key: secret key; None means the default credential chain.
            connect_timeout: seconds to wait for a connection.
            read_timeout: seconds to wait for data on an open connection.
            max_attempts: attempts per request, the first included (botocore standard retries).
            part_size: bytes per part of multipart uploads; smaller files go in one request.
            batch_size: keys per listing page, and so per `delete_objects` request (at most 1000).

        Raises:
            ValueError: `part_size` is below S3's 5 MiB minimum, or `batch_size` not in 1..1000.
        """
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_SIZE}")
        self.batch_size = batch_size
        self.bucket = bucket
        self.part_size = part_size
        self.state = State.NEW
        self._endpoint_url = endpoint_url
        self._region = region
        self._access_key_id = access_key_id
        self._secret_access_key = secret_access_key
        self._config = AioConfig(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": max_attempts, "mode": "standard"},
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            # Third-party S3 servers do not all accept the newer default checksums.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._stack = contextlib.AsyncExitStack()
        self._s3: S3Client | None = None

    async def __aenter__(self) -> "S3Store":
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Open the client and create the bucket if it is missing.

        Raises:
            RuntimeError: the store was already opened or closed.
            ObjectStoreUnavailable: the endpoint cannot be reached (the client is closed again).
        """
        if self.state is not State.NEW:
            raise RuntimeError(f"cannot open an S3Store that is {self.state.value}")
        self.state = State.OPEN
        try:
            client = await self._stack.enter_async_context(
                get_session().create_client(
                    "s3",
                    endpoint_url=self._endpoint_url,
                    region_name=self._region,
                    aws_access_key_id=self._access_key_id,
                    aws_secret_access_key=self._secret_access_key,
                    config=self._config,
                )
            )
            await self._ensure_bucket(client)
        except BaseException:
            await self.close()
            raise
        self._s3 = client

    async def close(self) -> None:
        """Close the client; safe to call twice and before `open()`."""
        self.state = State.CLOSED
        self._s3 = None
        await self._stack.aclose()

    async def _ensure_bucket(self, client: "S3Client") -> None:
        with s3_exceptions.mapping_s3_errors(self.bucket):
            try:
                await client.head_bucket(Bucket=self.bucket)
                return
            except botocore.exceptions.ClientError as exc:
                if s3_exceptions.code_of(exc) not in s3_exceptions.MISSING_BUCKET_CODES:
                    raise
            try:
                if self._region == "us-east-1":
                    await client.create_bucket(Bucket=self.bucket)
                else:
                    await client.create_bucket(
                        Bucket=self.bucket,
                        CreateBucketConfiguration={
                            "LocationConstraint": cast("BucketLocationConstraintType", self._region)
                        },
                    )
            except botocore.exceptions.ClientError as exc:
                if (
                    s3_exceptions.code_of(exc) != "BucketAlreadyOwnedByYou"
                ):  # another replica won the race
                    raise

    @property
    def _client(self) -> "S3Client":
        if self._s3 is None:
            raise RuntimeError(f"the S3Store is {self.state.value}, not open")
        return self._s3

    async def put_bytes(self, *, key: str, data: bytes) -> None:
        """Store `data` under `key`. See `base.ObjectStore.put_bytes`."""
        keys.validate_key(key)
        with s3_exceptions.mapping_s3_errors(key):
            await self._client.put_object(Bucket=self.bucket, Key=key, Body=data)

    async def get_bytes(self, key: str) -> bytes:
        """Return the object under `key`. See `base.ObjectStore.get_bytes`."""
        keys.validate_key(key)
        with s3_exceptions.mapping_s3_errors(key):
            response = await self._client.get_object(Bucket=self.bucket, Key=key)
            async with response["Body"] as body:
                return await body.read()

    async def put_file(self, *, key: str, path: Path) -> None:
        """Upload the file at `path` under `key`, streamed. See `base.ObjectStore.put_file`."""
        keys.validate_key(key)
        source = await asyncio.to_thread(path.open, "rb")
        try:
            first = await asyncio.to_thread(source.read, self.part_size)
            if len(first) < self.part_size:
                with s3_exceptions.mapping_s3_errors(key):
                    await self._client.put_object(Bucket=self.bucket, Key=key, Body=first)
            else:
                await self._put_multipart(key=key, first=first, source=source)
        finally:
            await asyncio.to_thread(source.close)

    async def _put_multipart(self, *, key: str, first: bytes, source: BinaryIO) -> None:
        with s3_exceptions.mapping_s3_errors(key):
            upload = await self._client.create_multipart_upload(Bucket=self.bucket, Key=key)
        upload_id = upload["UploadId"]
        try:
            with s3_exceptions.mapping_s3_errors(key):
                parts: list[CompletedPartTypeDef] = []
                chunk, number = first, 1
                while chunk:
                    sent = await self._client.upload_part(
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=chunk,
                    )
                    parts.append({"ETag": sent["ETag"], "PartNumber": number})
                    chunk = await asyncio.to_thread(source.read, self.part_size)
                    number += 1
                await self._client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
        except BaseException:
            # Best effort: parts of an abandoned upload cost storage until a lifecycle rule
            # removes them, but the original failure is what the caller must see.
            with contextlib.suppress(
                botocore.exceptions.BotoCoreError, *s3_exceptions.NETWORK_ERRORS
            ):
                await self._client.abort_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id
                )
            raise

    async def get_file(self, *, key: str, path: Path) -> None:
        """Download `key` to `path`, streamed and atomic. See `base.ObjectStore.get_file`."""
        keys.validate_key(key)
        with s3_exceptions.mapping_s3_errors(key):
            response = await self._client.get_object(Bucket=self.bucket, Key=key)
        async with response["Body"] as body:
            await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
            staged = await asyncio.to_thread(staging.StagedFile, path, mode=0o640)
            try:
                buffer = bytearray()
                while True:
                    with s3_exceptions.mapping_s3_errors(key):
                        piece = await body.read(CHUNK_SIZE)
                    buffer += piece
                    if len(buffer) >= CHUNK_SIZE or (not piece and buffer):
                        await asyncio.to_thread(staged.file.write, bytes(buffer))
                        buffer.clear()
                    if not piece:
                        break
                await asyncio.to_thread(staged.commit)
            except BaseException:
                await asyncio.to_thread(staged.discard)
                raise

    async def exists(self, key: str) -> bool:
        """Return whether an object is stored under `key`."""
        try:
            await self.size(key)
        except errors.ObjectNotFound:
            return False
        return True

    async def size(self, key: str) -> int:
        """Return the size of the object under `key`, in bytes."""
        keys.validate_key(key)
        with s3_exceptions.mapping_s3_errors(key):
            head = await self._client.head_object(Bucket=self.bucket, Key=key)
        return head["ContentLength"]

    async def delete(self, key: str) -> None:
        """Delete the object under `key`; a missing object is not an error."""
        keys.validate_key(key)
        with s3_exceptions.mapping_s3_errors(key):
            await self._client.delete_object(Bucket=self.bucket, Key=key)

    async def list(self, prefix: str) -> AsyncIterator[str]:
        """Yield the valid keys starting with `prefix`, sorted (S3 lists in byte order)."""
        async with contextlib.aclosing(self._pages(prefix)) as pages:
            async for page in pages:
                for key in page:
                    if keys.is_valid_key(key):
                        yield key

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix` (even foreign, invalid keys); return the count."""
        deleted = 0
        async with contextlib.aclosing(self._pages(prefix)) as pages:
            async for page in pages:
                deleted += await self._delete_batch(prefix=prefix, batch=page)
        return deleted

    async def _delete_batch(self, *, prefix: str, batch: tuple[str, ...]) -> int:
        if not batch:
            return 0
        with s3_exceptions.mapping_s3_errors(prefix):
            # A listing page holds at most `batch_size` keys: exactly one delete_objects batch.
            result = await self._client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )
        failed = result.get("Errors", [])
        if failed:
            raise errors.ObjectStoreError(
                f"S3 could not delete {len(failed)} object(s) under {prefix!r}: {failed[0]}"
            )
        return len(batch)

    async def _pages(self, prefix: str) -> AsyncGenerator[tuple[str, ...], None]:
        keys.validate_prefix(prefix)
        paginator = self._client.get_paginator("list_objects_v2")
        # aiobotocore's page iterator is an async generator underneath: close it when we stop
        # early, so it is never left for the garbage collector to finalize.
        pages = aiter(
            paginator.paginate(
                Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": self.batch_size}
            )
        )
        try:
            while True:
                with s3_exceptions.mapping_s3_errors(prefix):
                    try:
                        page = await anext(pages)
                    except StopAsyncIteration:
                        return
                yield tuple(entry["Key"] for entry in page.get("Contents", []))
        finally:
            aclose = getattr(pages, "aclose", None)
            if aclose is not None:
                await aclose()
