"""Fixtures: slugs made here (tarballs like the builder's), put into a bucket of this test's own
on the session's moto S3 server, and runner settings pointing at them."""

import io
import json
import tarfile
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from deis_shared.objectstore.s3 import S3Store
from deis_slugrunner.settings import RunnerSettings
from deis_testing import S3Server, unique_name

PYTHON_SLUG_ENV = {"PYTHONPATH": "$HOME/.deis/python", "PATH": "$HOME/.deis/python/bin:$PATH"}
"""What the builder's Python buildpack writes into `.deis/slug.json`."""

MakeSlug = Callable[..., bytes]


def _make_slug(
    files: Mapping[str, str],
    *,
    metadata: Mapping[str, Any] | None = None,
    links: Mapping[str, str] | None = None,
) -> bytes:
    """A gzipped slug tarball: `files` (path -> text), `links` (path -> target), metadata."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        entries = dict(files)
        if metadata is not None:
            entries[".deis/slug.json"] = json.dumps(metadata)
        for name, text in entries.items():
            data = text.encode()
            info = tarfile.TarInfo(f"./{name}")
            info.size, info.mode, info.uid, info.gid = len(data), 0o644, 0, 0
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(f"./{name}")
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


@pytest.fixture
def make_slug() -> MakeSlug:
    """Make a slug tarball: `make_slug(files, metadata=..., links=...)`."""
    return _make_slug


@pytest.fixture
def bucket() -> str:
    return unique_name("slugs-")


@pytest.fixture
async def store(s3_server: S3Server, bucket: str) -> AsyncIterator[S3Store]:
    async with S3Store(
        bucket=bucket,
        endpoint_url=s3_server.endpoint_url,
        region=s3_server.region,
        access_key_id=s3_server.access_key,
        secret_access_key=s3_server.secret_key,
    ) as opened:
        yield opened


@pytest.fixture
def store_env(s3_server: S3Server, bucket: str) -> dict[str, str]:
    """The `slug-store` Secret's variables for this test's bucket."""
    return {
        "DEIS_OBJECT_STORE": "s3",
        "DEIS_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "DEIS_S3_BUCKET": bucket,
        "DEIS_S3_REGION": s3_server.region,
        "DEIS_S3_ACCESS_KEY_ID": s3_server.access_key,
        "DEIS_S3_SECRET_ACCESS_KEY": s3_server.secret_key,
    }


@pytest.fixture
def settings_for(tmp_path: Path, store_env: dict[str, str]) -> Callable[..., RunnerSettings]:
    """Runner settings for this test's bucket and directories; keywords override."""

    def build(**overrides: Any) -> RunnerSettings:
        scratch = tmp_path / "scratch"
        scratch.mkdir(exist_ok=True)
        fields: dict[str, Any] = {
            "object_store": "s3",
            "s3_endpoint_url": store_env["DEIS_S3_ENDPOINT_URL"],
            "s3_bucket": store_env["DEIS_S3_BUCKET"],
            "s3_access_key_id": store_env["DEIS_S3_ACCESS_KEY_ID"],
            "s3_secret_access_key": store_env["DEIS_S3_SECRET_ACCESS_KEY"],
            "app_dir": tmp_path / "app",
            "scratch_dir": scratch,
            "slug_key": "slugs/hello/abc1234.tar.gz",
            "command": "python app.py",
            **overrides,
        }
        return RunnerSettings(**fields)

    return build
