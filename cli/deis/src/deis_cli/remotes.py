"""The working copy's git remotes: finding the app they point at, adding and removing them.

Only local git commands run here (`git remote ...`), as argument lists, never through a shell.
"""

import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from deis_cli import addresses, errors

DEFAULT_REMOTE = "deis"
"""The remote `deis create` adds."""


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise errors.CliError("git is not installed (or not on PATH)") from exc


def push_urls(cwd: Path | None = None) -> dict[str, str] | None:
    """Remote name → push URL; None outside a git working copy."""
    listed = _git("remote", "-v", cwd=cwd)
    if listed.returncode != 0:
        return None
    found: dict[str, str] = {}
    for line in listed.stdout.splitlines():
        if not line.endswith("(push)"):
            continue
        name, _, rest = line.partition("\t")
        found[name] = rest.rsplit(" ", 1)[0].strip()
    return found


def points_at(url: str, builder: addresses.Builder) -> bool:
    """Whether the remote `url` is one of this builder's repositories."""
    if "://" in url:
        parts = urlsplit(url)
        return parts.hostname == builder.host and (parts.port or 22) == builder.port
    # scp-like `git@host:app.git` has no port: Deis matched on the host name alone.
    return f"@{builder.host}:" in url


def app_of(url: str) -> str:
    """The app a remote URL names: its last path segment without `.git`."""
    last = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return last.split(".", 1)[0]


def find_app(builder: addresses.Builder, cwd: Path | None = None) -> str | None:
    """The app of the first remote that points at the builder (`deis` first), if any."""
    urls = push_urls(cwd)
    if not urls:
        return None
    names = sorted(urls, key=lambda name: (name != DEFAULT_REMOTE, name))
    for name in names:
        if points_at(urls[name], builder):
            return app_of(urls[name])
    return None


def add(name: str, url: str, *, force: bool = False, cwd: Path | None = None) -> None:
    """Add remote `name` → `url`; with `force`, replace an existing one.

    Raises:
        CliError: Not a git working copy, or the remote exists (without `force`).
    """
    urls = push_urls(cwd)
    if urls is None:
        raise errors.CliError("not a git repository: no remote added (see 'deis git:remote')")
    if name in urls:
        if not force:
            raise errors.CliError(
                f"A git remote with the name {name} already exists. To overwrite it run: "
                f"deis git:remote --force --remote {name}"
            )
        _checked(_git("remote", "set-url", name, url, cwd=cwd))
        return
    _checked(_git("remote", "add", name, url, cwd=cwd))


def remove_for(url: str, cwd: Path | None = None) -> list[str]:
    """Remove every remote whose push URL is `url`; the names removed."""
    urls = push_urls(cwd) or {}
    removed = [name for name, pushed in sorted(urls.items()) if pushed == url]
    for name in removed:
        _checked(_git("remote", "remove", name, cwd=cwd))
    return removed


def _checked(done: subprocess.CompletedProcess[str]) -> None:
    if done.returncode != 0:
        raise errors.CliError(done.stderr.strip() or f"git exited with {done.returncode}")
