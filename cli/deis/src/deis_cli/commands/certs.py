"""TLS certificates (global, owned by their uploader): add, list, info, remove, attach, detach."""

from pathlib import Path

import click

from deis_cli import errors, rendering
from deis_cli.commands import session
from deis_cli.commands.session import json_option

FIELDS = [
    "name",
    "common_name",
    "san",
    "domains",
    "issuer",
    "subject",
    "starts",
    "expires",
    "fingerprint",
    "owner",
    "created",
    "updated",
]


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise errors.InvalidInput(f"cannot read the {what} {path}: {exc.strerror}") from exc


@click.command("certs:list")
@json_option
def list_certs(as_json: bool) -> None:
    """List your certificates."""
    current = session.current()
    with current.client() as api:
        found, count = api.page("/v2/certs/", limit=current.profile.limit)
    if as_json:
        rendering.emit_json({"count": count, "results": found})
        return
    if not found:
        rendering.echo("No certs")
        return
    rows = [
        (
            c["name"],
            c.get("common_name") or "",
            str(c.get("expires", "")),
            ",".join(c.get("domains") or []) or "-",
        )
        for c in found
    ]
    rendering.show_table(rows, headers=["Name", "Common Name", "Expires", "Domains"])


@click.command("certs:add")
@click.argument("name")
@click.argument("cert")
@click.argument("key")
@json_option
def add(name: str, cert: str, key: str, as_json: bool) -> None:
    """Upload a certificate (PEM files of the certificate and its private key)."""
    body = {"name": name, "certificate": _read(cert, "certificate"), "key": _read(key, "key")}
    current = session.current()
    with current.client() as api, rendering.progress(f"Adding SSL endpoint {name}"):
        added = api.post("/v2/certs/", body)
    if as_json:
        rendering.emit_json(added)


@click.command("certs:info")
@click.argument("name")
@json_option
def info(name: str, as_json: bool) -> None:
    """Show a certificate."""
    current = session.current()
    with current.client() as api:
        cert = api.get(f"/v2/certs/{name}")
    if as_json:
        rendering.emit_json(cert)
        return
    rendering.heading(f"{name} Certificate")
    rendering.show_table([(f"{field}:", cert.get(field, "")) for field in FIELDS])


@click.command("certs:remove")
@click.argument("name")
def remove(name: str) -> None:
    """Delete a certificate (detaching it from its domains)."""
    current = session.current()
    with current.client() as api, rendering.progress(f"Removing {name}"):
        api.delete(f"/v2/certs/{name}")


@click.command("certs:attach")
@click.argument("name")
@click.argument("domain")
def attach(name: str, domain: str) -> None:
    """Serve a domain with a certificate."""
    current = session.current()
    with current.client() as api, rendering.progress(f"Attaching {name} to {domain}"):
        api.post(f"/v2/certs/{name}/domain/", {"domain": domain})


@click.command("certs:detach")
@click.argument("name")
@click.argument("domain")
def detach(name: str, domain: str) -> None:
    """Stop serving a domain with a certificate."""
    current = session.current()
    with current.client() as api, rendering.progress(f"Detaching {name} from {domain}"):
        api.delete(f"/v2/certs/{name}/domain/{domain}")


COMMANDS = [list_certs, add, info, remove, attach, detach]
ALIASES = {"certs": "certs:list"}
