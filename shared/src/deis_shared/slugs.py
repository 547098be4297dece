"""A slug's manifest, `.deis/slug.json`: written by the builder, read by whatever runs the slug.

The builder compiles a push into a directory and tars it as the slug; `.deis/` in it is the
builder's (a pushed `.deis/` is dropped), and `.deis/slug.json` says how to run the slug:

    {
      "schema": 1,
      "buildpack": "python",                      # "python" | "node" | "static"
      "process_types": {"web": "gunicorn app:app"},   # type -> command, run by a shell
      "env": {                                    # to set for every process of the app
        "PYTHONPATH": "$HOME/.deis/python",
        "PATH": "$HOME/.deis/python/bin:$PATH"
      }
    }

In `env` values, `$HOME` stands for the directory the slug is unpacked into (the processes'
working directory) and `$PATH` for the PATH the process would otherwise inherit; no other
expansion happens. What each buildpack puts there is the builder's
(`deis_builder.buildpacks.detection`).

`dump` writes the manifest as the builder always has (two-space indented JSON, keys in the
order above, a final newline); `read` and `load` are the readers' side. A slug without a
manifest runs with no env and no process types, and so does a manifest without those keys;
keys a reader does not know are ignored (`deis_shared.wire`'s policy), but `env` and
`process_types` must be objects of strings, and `schema` the version this module knows.
"""

import json
from pathlib import Path, PurePosixPath
from typing import Final, Literal

import pydantic
from pydantic import Field

from deis_shared import errors, wire

METADATA_DIR: Final = ".deis"
"""The slug's directory that belongs to the builder, relative to the slug's root."""

MANIFEST: Final = PurePosixPath(METADATA_DIR, "slug.json")
"""Where the manifest is, relative to the slug's root."""

SCHEMA: Final = 1
"""The manifest's version."""

_STRING_MAPS: Final = ("env", "process_types")
"""The fields the readers use, in the order their errors are reported."""


class InvalidManifest(errors.PermanentError):
    """A manifest that cannot be read: not JSON, not an object, or a field of the wrong type."""


class SlugManifest(wire.Part):
    """What `.deis/slug.json` says about a slug."""

    schema_version: Literal[1] = Field(SCHEMA, alias="schema")
    """Version of the manifest's shape."""

    buildpack: str | None = None
    """The buildpack that compiled the slug ("python", "node", "static"); always written."""

    process_types: dict[str, str] = Field(default_factory=dict)
    """Process type to command line, run by `/bin/sh -c`."""

    env: dict[str, str] = Field(default_factory=dict)
    """The env to set for every process, unexpanded (`$HOME`, `$PATH`)."""


def dump(manifest: SlugManifest) -> bytes:
    """The manifest as the builder writes it into `.deis/slug.json`.

    Returns:
        UTF-8 (in fact ASCII) JSON, indented by two spaces, ending in a newline.
    """
    fields = manifest.model_dump(mode="json", by_alias=True, exclude_none=True)
    return (json.dumps(fields, indent=2) + "\n").encode()


def load(data: str | bytes, *, slug: str | None = None) -> SlugManifest:
    """Parse the text of a `.deis/slug.json`.

    Args:
        data: the file's contents.
        slug: which slug it is (`"shop v3"`), named in error messages; None for "the slug".

    Raises:
        InvalidManifest: `data` is not JSON or not an object, `env` or `process_types` is not
            an object of strings, or `schema` or `buildpack` is invalid.
    """
    try:
        fields = json.loads(data)
    except ValueError as error:  # UnicodeDecodeError included
        raise InvalidManifest(f"unreadable {MANIFEST} in {_the_slug(slug)}") from error
    return _validated(fields, slug=slug)


def read(slug_dir: Path, *, slug: str | None = None) -> SlugManifest:
    """Read the manifest of the slug unpacked in `slug_dir`; an empty one when it has none.

    Args:
        slug_dir: the slug's root.
        slug: which slug it is (`"shop v3"`), named in error messages; None for "the slug".

    Raises:
        InvalidManifest: the file cannot be read, or `load` refuses it.
    """
    path = slug_dir / MANIFEST
    if not path.is_file():
        return SlugManifest()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as error:
        raise InvalidManifest(f"unreadable {MANIFEST} in {_the_slug(slug)}") from error
    return load(text, slug=slug)


def _validated(fields: object, *, slug: str | None) -> SlugManifest:
    if not isinstance(fields, dict):
        raise InvalidManifest(f"{MANIFEST} in {_the_slug(slug)} is not an object")
    try:
        return SlugManifest.model_validate(fields, strict=True, extra="ignore")
    except pydantic.ValidationError as error:
        raise InvalidManifest(_problem(error, slug=slug)) from error


def _problem(error: pydantic.ValidationError, *, slug: str | None) -> str:
    """One line for the first bad field: `env`, then `process_types`, then the others."""
    problems: dict[str, str] = {}
    for detail in error.errors(include_url=False):
        problems.setdefault(str(detail["loc"][0]) if detail["loc"] else "<root>", detail["msg"])
    of = f" of {slug}" if slug else ""
    for field in _STRING_MAPS:
        if field in problems:
            return f"{field} in {MANIFEST}{of} is not an object of strings"
    field, problem = next(iter(problems.items()))
    return f"{field} in {MANIFEST}{of} is invalid: {problem}"


def _the_slug(slug: str | None) -> str:
    return f"the slug of {slug}" if slug else "the slug"
