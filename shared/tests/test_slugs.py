"""The slug's manifest, `.deis/slug.json`: the builder's bytes, and what readers accept."""

import json
from pathlib import Path

import pydantic
import pytest

from deis_shared import errors, slugs

BUILT = slugs.SlugManifest(
    buildpack="python",
    process_types={"web": "gunicorn app:app", "worker": "rq worker", "clock": "echo h\u00e9"},
    env={"PYTHONPATH": "$HOME/.deis/python", "PATH": "$HOME/.deis/python/bin:$PATH"},
)

BUILT_TEXT = """\
{
  "schema": 1,
  "buildpack": "python",
  "process_types": {
    "web": "gunicorn app:app",
    "worker": "rq worker",
    "clock": "echo h\\u00e9"
  },
  "env": {
    "PYTHONPATH": "$HOME/.deis/python",
    "PATH": "$HOME/.deis/python/bin:$PATH"
  }
}
"""
"""What the builder wrote for `BUILT` before the manifest was a shared model."""


def _legacy_dump(*, buildpack: str, types: dict[str, str], env: dict[str, str]) -> bytes:
    """The builder's own writer, before `slugs.dump`."""
    metadata = {"schema": 1, "buildpack": buildpack, "process_types": types, "env": env}
    return (json.dumps(metadata, indent=2) + "\n").encode()


def test_dump_writes_what_the_builder_always_wrote() -> None:
    assert slugs.dump(BUILT) == BUILT_TEXT.encode()
    assert slugs.dump(BUILT) == _legacy_dump(
        buildpack="python", types=dict(BUILT.process_types), env=dict(BUILT.env)
    )


def test_an_empty_env_is_written_too() -> None:
    manifest = slugs.SlugManifest(buildpack="static", process_types={"web": "x"}, env={})
    assert slugs.dump(manifest) == _legacy_dump(buildpack="static", types={"web": "x"}, env={})


def test_round_trip_keeps_fields_and_order() -> None:
    loaded = slugs.load(slugs.dump(BUILT))
    assert loaded == BUILT
    assert list(loaded.process_types) == ["web", "worker", "clock"]
    assert list(loaded.env) == ["PYTHONPATH", "PATH"]
    assert slugs.dump(loaded) == BUILT_TEXT.encode()


def test_read_finds_the_manifest_under_the_slug_root(tmp_path: Path) -> None:
    assert slugs.MANIFEST.as_posix() == ".deis/slug.json"
    (tmp_path / ".deis").mkdir()
    (tmp_path / ".deis" / "slug.json").write_text(BUILT_TEXT)
    assert slugs.read(tmp_path) == BUILT


def test_a_slug_without_a_manifest_has_an_empty_one(tmp_path: Path) -> None:
    manifest = slugs.read(tmp_path)
    assert manifest.env == {}
    assert manifest.process_types == {}


@pytest.mark.parametrize(
    "text",
    [
        '{"schema": 1, "process_types": {"web": "x"}, "env": {"A": "$HOME"}, "extra": [1]}',
        '{"process_types": {"web": "x"}, "env": {"A": "$HOME"}}',
        '{"process_types": {"web": "x"}, "env": {"A": "$HOME"}, "buildpack": "go", "x": {}}',
    ],
    ids=["unknown-field", "no-schema-no-buildpack", "unknown-buildpack"],
)
def test_unknown_fields_are_ignored_and_missing_ones_default(text: str) -> None:
    manifest = slugs.load(text)
    assert manifest.process_types == {"web": "x"}
    assert manifest.env == {"A": "$HOME"}


def test_missing_env_and_types_are_empty() -> None:
    assert slugs.load('{"schema": 1}') == slugs.SlugManifest()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "unreadable .deis/slug.json in the slug"),
        ("", "unreadable .deis/slug.json in the slug"),
        (b"\xff\xfe\x00", "unreadable .deis/slug.json in the slug"),
        ("[1]", ".deis/slug.json in the slug is not an object"),
        ("null", ".deis/slug.json in the slug is not an object"),
        ('"text"', ".deis/slug.json in the slug is not an object"),
        ('{"env": {"A": 1}}', "env in .deis/slug.json is not an object of strings"),
        ('{"env": null}', "env in .deis/slug.json is not an object of strings"),
        ('{"env": ["A"]}', "env in .deis/slug.json is not an object of strings"),
        ('{"process_types": []}', "process_types in .deis/slug.json is not an object of strings"),
        (
            '{"process_types": {"web": 1}}',
            "process_types in .deis/slug.json is not an object of strings",
        ),
        (
            '{"process_types": {"web": null}, "env": {"A": true}}',
            "env in .deis/slug.json is not an object of strings",
        ),
    ],
)
def test_what_the_readers_refused_is_refused_with_their_messages(
    text: str | bytes, message: str
) -> None:
    with pytest.raises(slugs.InvalidManifest) as caught:
        slugs.load(text)
    assert str(caught.value) == message
    assert isinstance(caught.value, errors.PermanentError)


def test_messages_name_the_slug_as_the_scheduler_did() -> None:
    with pytest.raises(
        slugs.InvalidManifest, match=r"^unreadable \.deis/slug\.json in the slug of a v3$"
    ):
        slugs.load("{", slug="a v3")
    with pytest.raises(
        slugs.InvalidManifest, match=r"^\.deis/slug\.json in the slug of a v3 is not"
    ):
        slugs.load("[]", slug="a v3")
    with pytest.raises(
        slugs.InvalidManifest,
        match=r"^env in \.deis/slug\.json of a v3 is not an object of strings$",
    ):
        slugs.load('{"env": 1}', slug="a v3")


@pytest.mark.parametrize(
    ("text", "field"),
    [('{"schema": 2}', "schema"), ('{"schema": "1"}', "schema"), ('{"buildpack": 1}', "buildpack")],
)
def test_an_unknown_version_or_a_mistyped_buildpack_is_refused(text: str, field: str) -> None:
    with pytest.raises(slugs.InvalidManifest, match=rf"^{field} in \.deis/slug\.json is invalid: "):
        slugs.load(text)


def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".deis").mkdir()
    (tmp_path / ".deis" / "slug.json").write_bytes(b"\xff{}")
    with pytest.raises(slugs.InvalidManifest, match=r"^unreadable \.deis/slug\.json in the slug$"):
        slugs.read(tmp_path)


def test_the_manifest_is_frozen_and_its_writer_strict() -> None:
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        BUILT.buildpack = "node"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError, match="procfile"):
        slugs.SlugManifest(buildpack="python", procfile={})  # type: ignore[call-arg]
