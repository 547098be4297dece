import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from deis_shared.objectstore.s3 import S3Store
from deis_slugrunner import slugs

MakeSlug = Callable[..., bytes]


async def test_unpack_empties_the_directory_and_keeps_links(
    tmp_path: Path, make_slug: MakeSlug
) -> None:
    app = tmp_path / "app"
    (app / "old" / "deep").mkdir(parents=True)
    (app / ".leftover").write_text("from the last run")
    (app / "link").symlink_to(tmp_path)
    tarball = tmp_path / "slug.tar.gz"
    tarball.write_bytes(
        make_slug({"app.py": "print()", "lib/mod.py": ""}, links={"python": "/usr/bin/python3"})
    )

    await slugs.unpack(tarball, into=app)

    assert sorted(p.relative_to(app).as_posix() for p in app.rglob("*")) == [
        "app.py",
        "lib",
        "lib/mod.py",
        "python",
    ]
    assert (app / "python").readlink() == Path("/usr/bin/python3")
    assert stat.S_IMODE((app / "app.py").stat().st_mode) & 0o600 == 0o600


async def test_a_broken_tarball_is_a_slug_error(tmp_path: Path) -> None:
    tarball = tmp_path / "slug.tar.gz"
    tarball.write_bytes(b"not a tarball at all")
    with pytest.raises(slugs.SlugError, match="does not unpack"):
        await slugs.unpack(tarball, into=tmp_path / "app")


async def test_download_of_a_missing_slug_is_a_slug_error(store: S3Store, tmp_path: Path) -> None:
    with pytest.raises(slugs.SlugError, match="no slug at"):
        await slugs.download(store, key="slugs/nope/abc1234.tar.gz", scratch=tmp_path)


async def test_download_writes_the_tarball(store: S3Store, tmp_path: Path) -> None:
    await store.put_bytes(key="slugs/hello/abc1234.tar.gz", data=b"slug bytes")
    tarball = await slugs.download(store, key="slugs/hello/abc1234.tar.gz", scratch=tmp_path)
    assert tarball.read_bytes() == b"slug bytes"


def test_read_gives_env_and_process_types(tmp_path: Path) -> None:
    (tmp_path / ".deis").mkdir()
    (tmp_path / ".deis" / "slug.json").write_text(
        json.dumps({"schema": 1, "process_types": {"web": "x"}, "env": {"A": "$HOME"}})
    )
    assert slugs.read(tmp_path) == slugs.Slug(env={"A": "$HOME"}, process_types={"web": "x"})


def test_a_slug_without_metadata_has_none(tmp_path: Path) -> None:
    assert slugs.read(tmp_path) == slugs.Slug(env={}, process_types={})


@pytest.mark.parametrize("text", ["{", "[1]", '{"env": {"A": 1}}', '{"process_types": []}'])
def test_bad_metadata_is_a_slug_error(tmp_path: Path, text: str) -> None:
    (tmp_path / ".deis").mkdir()
    (tmp_path / ".deis" / "slug.json").write_text(text)
    with pytest.raises(slugs.SlugError):
        slugs.read(tmp_path)


def test_read_takes_what_the_builder_writes(tmp_path: Path) -> None:
    (tmp_path / ".deis").mkdir()
    (tmp_path / ".deis" / "slug.json").write_bytes(
        b"{\n"
        b'  "schema": 1,\n'
        b'  "buildpack": "python",\n'
        b'  "process_types": {\n'
        b'    "web": "gunicorn app:app",\n'
        b'    "worker": "echo h\\u00e9llo"\n'
        b"  },\n"
        b'  "env": {\n'
        b'    "PYTHONPATH": "$HOME/.deis/python",\n'
        b'    "PATH": "$HOME/.deis/python/bin:$PATH"\n'
        b"  }\n"
        b"}\n"
    )
    assert slugs.read(tmp_path) == slugs.Slug(
        env={"PYTHONPATH": "$HOME/.deis/python", "PATH": "$HOME/.deis/python/bin:$PATH"},
        process_types={"web": "gunicorn app:app", "worker": "echo h\u00e9llo"},
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "unreadable .deis/slug.json in the slug"),
        ("[1]", ".deis/slug.json in the slug is not an object"),
        ('{"env": {"A": 1}}', "env in .deis/slug.json is not an object of strings"),
        ('{"process_types": []}', "process_types in .deis/slug.json is not an object of strings"),
    ],
)
def test_bad_metadata_messages(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / ".deis").mkdir()
    (tmp_path / ".deis" / "slug.json").write_text(text)
    with pytest.raises(slugs.SlugError) as caught:
        slugs.read(tmp_path)
    assert str(caught.value) == message
