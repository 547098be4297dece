"""The named security boundary for paths under the builder's data directory.

App names choose directories (`<root>/<app>.git`, the app's build cache), so they are joined to
a root only here: the name passes the app-name rule, and the result must resolve inside the
root, so that neither `..` nor a symlink planted in the data directory leads elsewhere.
"""

from pathlib import Path

from deis_builder.errors import Refused
from deis_shared import appnames


def path_under(root: Path, name: str) -> Path:
    """`root / name`, refusing any result that resolves outside `root`.

    Args:
        root: A directory of the builder's (repos, caches).
        name: One path segment derived from an app name.

    Returns:
        The joined path (not resolved).

    Raises:
        Refused: `name` is empty, has a separator, is `.`/`..`, or resolves outside `root`.
    """
    if not name or name in {".", ".."} or "/" in name or "\0" in name:
        raise Refused(f"invalid path segment {name!r}")
    joined = root / name
    resolved_root = root.resolve()
    resolved = joined.resolve()
    if resolved == resolved_root or not resolved.is_relative_to(resolved_root):
        raise Refused(f"{name!r} resolves outside {root}")
    return joined


def repo_path(root: Path, app: str) -> Path:
    """The bare repository of `app`: `<root>/<app>.git`.

    Raises:
        Refused: `app` is not a valid app name or the path escapes `root`.
    """
    return path_under(root, f"{_checked(app)}.git")


def cache_path(root: Path, app: str) -> Path:
    """The build cache of `app`: `<root>/<app>`.

    Raises:
        Refused: `app` is not a valid app name or the path escapes `root`.
    """
    return path_under(root, _checked(app))


def _checked(app: str) -> str:
    try:
        return appnames.validate_app_name(app)
    except appnames.InvalidAppName as exc:
        raise Refused(str(exc)) from None
