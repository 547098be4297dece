"""The SSH host key: made once and kept, so clients' `known_hosts` entries stay valid."""

import os
from pathlib import Path

import asyncssh


def load_or_create(path: Path) -> asyncssh.SSHKey:
    """The ed25519 host key at `path`, generated (0600, written atomically) when missing."""
    if path.exists():
        return asyncssh.read_private_key(path)
    key = asyncssh.generate_private_key("ssh-ed25519")
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(key.export_private_key())
    temp.replace(path)
    return key
