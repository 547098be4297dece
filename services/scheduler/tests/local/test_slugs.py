import asyncio
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from deis_scheduler.local import slugs
from deis_scheduler.local.slugs import SlugCache, SlugError, UnpackedRelease
from deis_shared.objectstore import keys
from deis_shared.objectstore.filesystem import FilesystemStore

MakeSlug = Callable[..., Awaitable[str]]
SHA = "abc1234"
METADATA = {
    "schema": 1,
    "buildpack": "python",
    "process_types": {"web": "python3 app.py", "worker": "python3 worker.py"},
    "env": {
        "PYTHONPATH": "$HOME/.deis/python",
        "PATH": "$HOME/.deis/python/bin:$PATH",
        "OTHER": "$HOMEDIR stays",
    },
}


@pytest.fixture
def cache(store: FilesystemStore, tmp_path: Path) -> SlugCache:
    return SlugCache(store=store, root=tmp_path / "cache")


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob(".unpacking-*"))


async def test_unpack_reads_the_metadata_and_expands_home(
    cache: SlugCache, make_slug: MakeSlug, app_name: str, tmp_path: Path
) -> None:
    key = await make_slug(app_name, SHA, metadata=METADATA)
    release = await cache.unpack(app=app_name, version=3, sha=SHA, slug_key=key)
    home = tmp_path / "cache" / "apps" / app_name / f"v3-{SHA}"
    assert release == UnpackedRelease(
        path=home,
        env={
            "PYTHONPATH": "/app/.deis/python",
            "PATH": "/app/.deis/python/bin:$PATH",
            "OTHER": "$HOMEDIR stays",
        },
        process_types={"web": "python3 app.py", "worker": "python3 worker.py"},
    )
    assert (home / "app.py").read_text() == "print('hi')\n"
    assert (tmp_path / "cache" / "slugs" / app_name / f"{SHA}.tar.gz").is_file()
    assert leftovers(tmp_path / "cache") == []


async def test_a_slug_without_metadata_has_no_types_and_no_env(
    cache: SlugCache, make_slug: MakeSlug, app_name: str
) -> None:
    key = await make_slug(app_name, SHA)
    release = await cache.unpack(app=app_name, version=1, sha=SHA, slug_key=key)
    assert release.env == {}
    assert release.process_types == {}


async def test_the_slug_is_downloaded_once_per_sha_and_unpacked_once_per_release(
    cache: SlugCache, make_slug: MakeSlug, store: FilesystemStore, app_name: str
) -> None:
    key = await make_slug(app_name, SHA, metadata=METADATA)
    first = await cache.unpack(app=app_name, version=1, sha=SHA, slug_key=key)
    (first.path / "marker").write_text("kept")
    await store.delete(key)
    # A config change: a new release of the same build, unpacked from the local tarball.
    second = await cache.unpack(app=app_name, version=2, sha=SHA, slug_key=key)
    assert second.path != first.path
    assert (second.path / "app.py").is_file()
    assert not (second.path / "marker").exists()
    again = await cache.unpack(app=app_name, version=1, sha=SHA, slug_key=key)
    assert again == first
    assert (again.path / "marker").read_text() == "kept"


async def test_concurrent_unpacks_of_one_release_do_not_race(
    cache: SlugCache, make_slug: MakeSlug, app_name: str, tmp_path: Path
) -> None:
    key = await make_slug(app_name, SHA, metadata=METADATA)
    results = await asyncio.gather(
        *(cache.unpack(app=app_name, version=1, sha=SHA, slug_key=key) for _ in range(5))
    )
    assert all(result == results[0] for result in results)
    assert [p.name for p in (tmp_path / "cache" / "apps" / app_name).iterdir()] == [f"v1-{SHA}"]


async def test_a_crashed_unpack_is_cleaned_up_and_redone(
    cache: SlugCache, make_slug: MakeSlug, app_name: str, tmp_path: Path
) -> None:
    key = await make_slug(app_name, SHA)
    crashed = tmp_path / "cache" / "apps" / app_name / f".unpacking-v1-{SHA}.x1y2z3"
    (crashed / "half").mkdir(parents=True)
    release = await cache.unpack(app=app_name, version=1, sha=SHA, slug_key=key)
    assert (release.path / "app.py").is_file()
    assert leftovers(tmp_path / "cache") == []


async def test_a_missing_slug_is_a_slug_error(
    cache: SlugCache, app_name: str, tmp_path: Path
) -> None:
    with pytest.raises(SlugError, match=rf"^no slug for {app_name} at {SHA}: "):
        await cache.unpack(app=app_name, version=1, sha=SHA, slug_key=keys.slug_key(app_name, SHA))
    assert not (tmp_path / "cache" / "apps" / app_name).exists() or not any(
        (tmp_path / "cache" / "apps" / app_name).iterdir()
    )


async def test_a_broken_tarball_is_a_slug_error_and_leaves_nothing(
    cache: SlugCache, store: FilesystemStore, app_name: str, tmp_path: Path
) -> None:
    key = keys.slug_key(app_name, SHA)
    await store.put_bytes(key=key, data=b"not a tarball")
    with pytest.raises(SlugError, match=rf"^the slug of {app_name} v1 does not unpack: "):
        await cache.unpack(app=app_name, version=1, sha=SHA, slug_key=key)
    assert list((tmp_path / "cache" / "apps" / app_name).iterdir()) == []


async def test_bad_metadata_is_a_slug_error(
    cache: SlugCache, make_slug: MakeSlug, app_name: str
) -> None:
    key = await make_slug(app_name, SHA, metadata={"process_types": {"web": 1}})
    with pytest.raises(SlugError, match=r"process_types in \.deis/slug\.json"):
        await cache.unpack(app=app_name, version=1, sha=SHA, slug_key=key)


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ([1], ".deis/slug.json in the slug of {app} v2 is not an object"),
        ({"env": {"A": 1}}, "env in .deis/slug.json of {app} v2 is not an object of strings"),
        (
            {"process_types": [], "env": {}},
            "process_types in .deis/slug.json of {app} v2 is not an object of strings",
        ),
    ],
)
async def test_bad_metadata_messages_name_the_release(
    cache: SlugCache, make_slug: MakeSlug, app_name: str, metadata: object, message: str
) -> None:
    key = await make_slug(app_name, SHA, metadata=metadata)
    with pytest.raises(SlugError) as caught:
        await cache.unpack(app=app_name, version=2, sha=SHA, slug_key=key)
    assert str(caught.value) == message.format(app=app_name)


@pytest.mark.parametrize("app", ["../etc", "a/b", "App", "", "-x", "a..b", "a\nb", "x" * 64])
async def test_hostile_app_names_are_refused(cache: SlugCache, app: str, tmp_path: Path) -> None:
    with pytest.raises(SlugError):
        await cache.unpack(app=app, version=1, sha=SHA, slug_key="slugs/a/abc1234.tar.gz")
    with pytest.raises(SlugError):
        await cache.remove_app(app)
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(
    "sha", ["../../../etc", "ABC1234", "abc123", "g" * 7, "a" * 41, "abc1234/..", "abc1234\n"]
)
async def test_hostile_shas_are_refused(
    cache: SlugCache, sha: str, app_name: str, tmp_path: Path
) -> None:
    with pytest.raises(SlugError, match="invalid sha"):
        await cache.unpack(app=app_name, version=1, sha=sha, slug_key="slugs/a/abc1234.tar.gz")
    assert not (tmp_path / "cache").exists()


async def test_unpacked_files_are_readable_by_anyone_and_never_setuid(
    cache: SlugCache, store: FilesystemStore, app_name: str, tmp_path: Path
) -> None:
    source = tmp_path / "modes"
    (source / "private").mkdir(parents=True)
    (source / "private" / "secret.txt").write_text("x")
    (source / "private" / "secret.txt").chmod(0o600)
    (source / "run.sh").write_text("#!/bin/sh\n")
    (source / "run.sh").chmod(0o4700)
    (source / "private").chmod(0o700)
    tarball = tmp_path / "modes.tar.gz"
    process = await asyncio.create_subprocess_exec(
        "tar", "-czf", str(tarball), "-C", str(source), "."
    )
    assert await process.wait() == 0
    key = keys.slug_key(app_name, SHA)
    await store.put_file(key=key, path=tarball)
    release = await cache.unpack(app=app_name, version=1, sha=SHA, slug_key=key)

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(release.path) == 0o755
    assert mode(release.path / "private") == 0o755
    assert mode(release.path / "private" / "secret.txt") == 0o644
    assert mode(release.path / "run.sh") == 0o755
    assert mode(release.path.parent) == 0o755


async def test_remove_app_deletes_slugs_and_releases(
    cache: SlugCache, make_slug: MakeSlug, app_name: str, tmp_path: Path
) -> None:
    key = await make_slug(app_name, SHA)
    await cache.unpack(app=app_name, version=1, sha=SHA, slug_key=key)
    await cache.remove_app(app_name)
    assert not (tmp_path / "cache" / "apps" / app_name).exists()
    assert not (tmp_path / "cache" / "slugs" / app_name).exists()
    await cache.remove_app(app_name)
    await cache.remove_app("never-unpacked")


def test_process_env_layers_base_config_slug_home_and_extra(tmp_path: Path) -> None:
    release = UnpackedRelease(
        path=tmp_path,
        env={"PATH": f"{tmp_path}/bin:$PATH", "LIBS": "$PATH:$PATHS", "MODE": "slug"},
        process_types={},
    )
    env = slugs.process_env(
        release=release,
        base={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/root", "MODE": "base"},
        config={"PATH": r"/opt\1/bin", "GREETING": "hi", "PORT": "1"},
        extra={"PORT": "5000", "DEIS_APP": "myapp"},
    )
    assert env == {
        "PATH": rf"{tmp_path}/bin:/opt\1/bin",
        "LIBS": rf"{tmp_path}/bin:/opt\1/bin:$PATHS",
        "LANG": "C.UTF-8",
        "HOME": "/app",
        "MODE": "slug",
        "GREETING": "hi",
        "PORT": "5000",
        "DEIS_APP": "myapp",
    }


def test_process_env_without_any_path_falls_back_to_the_default(tmp_path: Path) -> None:
    release = UnpackedRelease(path=tmp_path, env={"PATH": "/x:$PATH"}, process_types={})
    env = slugs.process_env(release=release, base={}, config={}, extra={})
    assert env["PATH"].startswith("/x:")
    assert env["PATH"] != "/x:"
