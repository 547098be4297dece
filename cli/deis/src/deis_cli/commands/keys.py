"""SSH keys for `git push`: keys:add, list, remove (docs/api.md §2.10)."""

from pathlib import Path

import click

from deis_cli import errors, rendering
from deis_cli.commands import session
from deis_cli.commands.session import json_option

DEFAULT_KEYS = ("id_ed25519.pub", "id_rsa.pub")
"""Tried in `~/.ssh/` when `keys:add` is given no file."""

PUBLIC_KEY_TYPES = ("ssh-", "ecdsa-", "sk-")
"""How the first field of an OpenSSH public key line starts."""


def key_id(public: str, path: Path) -> str:
    """Deis's key name: the key's comment, else the file name before its first dot."""
    fields = public.split()
    if len(fields) >= 3:
        return fields[2]
    return path.name.split(".", 1)[0]


def default_key(home: Path) -> Path:
    """The first of `~/.ssh/id_ed25519.pub` and `~/.ssh/id_rsa.pub` that exists.

    Raises:
        InvalidInput: Neither exists.
    """
    for name in DEFAULT_KEYS:
        candidate = home / ".ssh" / name
        if candidate.is_file():
            return candidate
    raise errors.InvalidInput(
        "no public key found in ~/.ssh (id_ed25519.pub, id_rsa.pub); name one: deis keys:add FILE"
    )


@click.command("keys:add")
@click.argument("path", required=False, metavar="[FILE]")
@click.option("--name", help="The key's name (default: its comment or file name).")
@json_option
def add(path: str | None, name: str | None, as_json: bool) -> None:
    """Add an SSH public key (default ~/.ssh/id_ed25519.pub or id_rsa.pub)."""
    current = session.current()
    file = Path(path).expanduser() if path else default_key(current.env.home)
    try:
        public = file.read_text().strip()
    except OSError as exc:
        raise errors.InvalidInput(f"cannot read {file}: {exc.strerror}") from exc
    if len(public.split()) < 2 or not public.startswith(PUBLIC_KEY_TYPES):
        raise errors.InvalidInput(f"{file} does not hold an SSH public key")
    ident = name or key_id(public, file)
    with current.client() as api, rendering.progress(f"Uploading {file.name} to deis"):
        added = api.post("/v2/keys/", {"id": ident, "public": public})
    if as_json:
        rendering.emit_json(added)
        return
    rendering.echo(f"Added key {ident}")


@click.command("keys:list")
@json_option
def list_keys(as_json: bool) -> None:
    """List your SSH keys."""
    current = session.current()
    with current.client() as api:
        found, count = api.page("/v2/keys/", limit=current.profile.limit)
    if as_json:
        rendering.emit_json({"count": count, "results": found})
        return
    rendering.heading(f"{current.profile.username} Keys")
    rows = []
    for key in found:
        fields = str(key.get("public", "")).split()
        shown = f"{fields[0]} {fields[1][:16]}...{fields[1][-16:]}" if len(fields) > 1 else ""
        rows.append((key["id"], shown))
    rendering.show_table(rows)


@click.command("keys:remove")
@click.argument("ident", metavar="ID")
def remove(ident: str) -> None:
    """Remove an SSH key by its name."""
    current = session.current()
    with current.client() as api, rendering.progress(f"Removing {ident} SSH Key"):
        api.delete(f"/v2/keys/{ident}")


COMMANDS = [add, list_keys, remove]
ALIASES = {"keys": "keys:list"}
