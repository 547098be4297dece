"""The named security boundary of the object store: which keys exist, and where they live on disk.

Keys come from app names, git shas and dates that users influence, so every backend calls
`validate_key` (or `validate_prefix`) before any I/O, and the filesystem backend joins keys to
its root only through `path_under`. The grammar is deliberately smaller than what S3 allows:
`/`-separated segments of `[A-Za-z0-9._-]`, never `.` or `..`, never empty, at most 1024
characters. That one grammar is safe as a relative path on every filesystem we run on and as an
S3 key, so both backends accept exactly the same keys.
"""

import re
from datetime import UTC, datetime
from pathlib import Path

from deis_shared import appnames
from deis_shared.objectstore import errors

MAX_KEY_LENGTH = 1024
"""Longest key accepted, in characters (S3's own limit, in bytes, for ASCII keys)."""

_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")


def _check_segments(text: str, *, what: str) -> None:
    if not text:
        raise errors.InvalidKey(f"{what} is empty")
    if len(text) > MAX_KEY_LENGTH:
        raise errors.InvalidKey(f"{what} is longer than {MAX_KEY_LENGTH} characters")
    for segment in text.split("/"):
        if segment in {"", ".", ".."}:
            raise errors.InvalidKey(f"{what} {text!r} has an empty, '.' or '..' segment")
        if _SEGMENT.fullmatch(segment) is None:
            raise errors.InvalidKey(
                f"{what} {text!r} has characters outside [A-Za-z0-9._-] in {segment!r}"
            )


def validate_key(key: str) -> str:
    """Check that `key` names an object safely on every backend.

    Args:
        key: a relative, `/`-separated key such as `slugs/myapp/0a1b2c.tar.gz`.

    Returns:
        The key, unchanged.

    Raises:
        InvalidKey: the key is empty, too long, absolute, ends with `/`, or has an empty, `.` or
            `..` segment or a character outside `[A-Za-z0-9._-]` (backslash, NUL, controls,
            spaces, non-ASCII letters).
    """
    if not isinstance(key, str):
        raise errors.InvalidKey(f"key must be a string, not {type(key).__name__}")
    _check_segments(key, what="key")
    return key


def validate_prefix(prefix: str) -> str:
    """Check that `prefix` is a key, or a key followed by `/`, as `list` and `delete_prefix` take.

    The empty prefix is refused on purpose: `delete_prefix("")` would empty the whole store.

    Args:
        prefix: such as `logs/myapp/` (only keys under that folder) or `logs/myapp` (also
            `logs/myapp2/...`: prefixes match characters, as in S3).

    Returns:
        The prefix, unchanged.

    Raises:
        InvalidKey: the prefix is empty, or its part before a trailing `/` is not a valid key.
    """
    if not isinstance(prefix, str):
        raise errors.InvalidKey(f"prefix must be a string, not {type(prefix).__name__}")
    _check_segments(prefix.removesuffix("/"), what="prefix")
    return prefix


def path_under(root: Path, key: str) -> Path:
    """Join `key` to `root`, refusing any result that resolves outside `root`.

    The key is validated first; then both paths are resolved (following symlinks that exist),
    so a symlink inside the store that points elsewhere cannot be used to read or write outside
    it. The check is made at call time: the store's directory must not be writable by anyone who
    could race it with a new symlink.

    Args:
        root: the store's directory.
        key: the object's key.

    Returns:
        `root / key` (not resolved, so that replacing it replaces a symlink, not its target).

    Raises:
        InvalidKey: the key is invalid or resolves outside `root`.
    """
    validate_key(key)
    joined = root / key
    resolved_root = root.resolve()
    try:
        resolved = joined.resolve()
    except (OSError, RuntimeError) as exc:  # symlink loops
        raise errors.InvalidKey(f"key {key!r} cannot be resolved under the store") from exc
    if resolved == resolved_root or not resolved.is_relative_to(resolved_root):
        raise errors.InvalidKey(f"key {key!r} resolves outside the store")
    return joined


def is_valid_key(key: str) -> bool:
    """Return whether `validate_key` accepts `key`: for skipping foreign names when listing.

    Args:
        key: any string.

    Returns:
        True for a valid key.
    """
    try:
        validate_key(key)
    except errors.InvalidKey:
        return False
    return True


def _app_segment(app: str) -> str:
    try:
        return appnames.validate_app_name(app)
    except appnames.InvalidAppName as exc:
        raise errors.InvalidKey(str(exc)) from exc


def _segment(text: str) -> str:
    if "/" in text:
        raise errors.InvalidKey(f"{text!r} must be one key segment")
    return text


def source_key(app: str, sha: str) -> str:
    """The key of the source tarball the builder stores for commit `sha` of `app`.

    Args:
        app: the app name; it must pass the app-name rule.
        sha: the commit, as the build event carries it.

    Returns:
        `sources/<app>/<sha>.tar.gz`.

    Raises:
        InvalidKey: the app name is invalid, or the result is not a valid key.
    """
    return validate_key(f"sources/{_app_segment(app)}/{_segment(sha)}.tar.gz")


def slug_key(app: str, sha: str) -> str:
    """The key of the slug built from commit `sha` of `app`.

    Args:
        app: the app name; it must pass the app-name rule.
        sha: the commit, as the build event carries it.

    Returns:
        `slugs/<app>/<sha>.tar.gz`.

    Raises:
        InvalidKey: the app name is invalid, or the result is not a valid key.
    """
    return validate_key(f"slugs/{_app_segment(app)}/{_segment(sha)}.tar.gz")


def log_archive_prefix(app: str) -> str:
    """The prefix of every log archive of `app`, for listing and purging.

    Args:
        app: the app name; it must pass the app-name rule.

    Returns:
        `logs/<app>/`.

    Raises:
        InvalidKey: the app name is invalid.
    """
    return validate_prefix(f"logs/{_app_segment(app)}/")


def log_archive_key(app: str, hour: datetime) -> str:
    """The key of the gzip archive of `app`'s log lines written in the hour of `hour`.

    Args:
        app: the app name; it must pass the app-name rule.
        hour: any time in the hour, timezone-aware (the key is in UTC).

    Returns:
        `logs/<app>/<yyyy>/<mm>/<dd>/<hh>.log.gz`.

    Raises:
        InvalidKey: the app name is invalid.
        ValueError: `hour` is naive.
    """
    if hour.tzinfo is None:
        raise ValueError("the hour of a log archive must be timezone-aware")
    utc = hour.astimezone(UTC)
    return validate_key(f"logs/{_app_segment(app)}/{utc:%Y/%m/%d/%H}.log.gz")
