"""Choosing and opening the object store a service's settings ask for.

The service runner enters `open_store_from_settings(settings)` (or `open_store(...)` with the
values spelled out) in its exit stack, after NATS and before background tasks; leaving the
context closes the S3 client. The filesystem backend needs no client: its root is created here
so that a misconfigured, unwritable root fails at start-up rather than at the first push.
"""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

from deis_shared import settings as settings_module
from deis_shared.objectstore import base, filesystem, s3


@contextlib.asynccontextmanager
async def open_store(
    *,
    kind: Literal["filesystem", "s3"],
    root: Path,
    endpoint_url: str | None = None,
    bucket: str = "deis",
    region: str = "us-east-1",
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
) -> AsyncIterator[base.ObjectStore]:
    """Open the store of `kind` for the duration of the context.

    Args:
        kind: `filesystem` (objects under `root`) or `s3` (objects in `bucket`).
        root: directory of the filesystem backend, created (0750) if missing.
        endpoint_url: S3 endpoint; None means AWS.
        bucket: S3 bucket, created if missing.
        region: S3 region.
        access_key_id: S3 access key; None means the default credential chain.
        secret_access_key: S3 secret key; None means the default credential chain.

    Yields:
        The open store.

    Raises:
        ValueError: `kind` is not a known backend.
        ObjectStoreUnavailable: the S3 endpoint cannot be reached.
    """
    if kind == "filesystem":
        local = filesystem.FilesystemStore(root)
        await local.prepare()
        yield local
    elif kind == "s3":
        remote = s3.S3Store(
            bucket=bucket,
            endpoint_url=endpoint_url,
            region=region,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
        )
        async with remote:
            yield remote
    else:
        raise ValueError(f"unknown object store kind {kind!r}")


@contextlib.asynccontextmanager
async def open_store_from_settings(
    settings: settings_module.ServiceSettings,
) -> AsyncIterator[base.ObjectStore]:
    """Open the store that `settings.object_store` names, with the other `s3_*` fields.

    Args:
        settings: the service's settings.

    Yields:
        The open store.

    Raises:
        ValueError: `settings.object_store` is `none` (this service stores nothing).
        ObjectStoreUnavailable: the S3 endpoint cannot be reached.
    """
    if settings.object_store == "none":
        raise ValueError("object_store is 'none': this service has no object store")
    key_id, secret = settings.s3_access_key_id, settings.s3_secret_access_key
    async with open_store(
        kind=settings.object_store,
        root=settings.object_store_root,
        endpoint_url=settings.s3_endpoint_url,
        bucket=settings.s3_bucket,
        region=settings.s3_region,
        access_key_id=key_id.get_secret_value() if key_id is not None else None,
        secret_access_key=secret.get_secret_value() if secret is not None else None,
    ) as store:
        yield store
