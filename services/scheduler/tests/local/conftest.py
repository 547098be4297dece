"""Fixtures for the local backend: a filesystem object store and slugs made by the test."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from deis_shared.objectstore import keys
from deis_shared.objectstore.filesystem import FilesystemStore

MakeSlug = Callable[..., Awaitable[str]]


@pytest.fixture
async def store(tmp_path: Path) -> FilesystemStore:
    """An object store in the test's own directory."""
    objects = FilesystemStore(tmp_path / "objects")
    await objects.prepare()
    return objects


async def tar(source: Path, tarball: Path) -> None:
    """`tar -czf tarball -C source .`, as the builder packs a slug."""
    process = await asyncio.create_subprocess_exec(
        "tar", "-czf", str(tarball), "-C", str(source), "."
    )
    assert await process.wait() == 0


@pytest.fixture
def make_slug(tmp_path: Path, store: FilesystemStore) -> MakeSlug:
    """`await make_slug(app, sha, files=..., metadata=...)`: pack and store a slug; its key.

    `metadata` becomes `.deis/slug.json` (none when None); `files` maps relative paths to text.
    """

    async def make(
        app: str,
        sha: str,
        *,
        files: dict[str, str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        source = tmp_path / "sources" / f"{app}-{sha}"
        source.mkdir(parents=True)
        for name, text in (files or {"app.py": "print('hi')\n"}).items():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_text(text)
        if metadata is not None:
            (source / ".deis").mkdir()
            (source / ".deis" / "slug.json").write_text(json.dumps(metadata))
        tarball = tmp_path / "sources" / f"{app}-{sha}.tar.gz"
        await tar(source, tarball)
        key = keys.slug_key(app, sha)
        await store.put_file(key=key, path=tarball)
        return key

    return make
