"""The platform's credentials, generated once into the data dir and readable only by its owner.

Each secret is a file `<data dir>/secrets/<name>` (mode 0600, in a 0700 directory) holding a
random token. `deisctl` hands them to the services that need them, in their own `DEIS_*`
settings, which no service passes on to app processes or builds.
"""

import os
import re
import secrets as random
import string
from pathlib import Path

from deisctl.errors import CtlError

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")


def secret(directory: Path, name: str) -> str:
    """The secret `name` under `directory`, made on first use.

    Raises:
        CtlError: `name` is not a plain lowercase name, or the file is not the owner's alone.
    """
    if _NAME.fullmatch(name) is None:
        raise CtlError(f"{name!r} is not a secret's name")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    path = directory / name
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise CtlError(f"{path} may be read by others (mode {mode:o}): chmod 600 it") from None
        value = path.read_text().strip()
        if not value:
            raise CtlError(f"{path} is empty: remove it to make a new one") from None
        return value
    value = generate()
    with os.fdopen(descriptor, "w") as file:
        file.write(value + "\n")
    return value


def generate() -> str:
    """A new secret: a letter, then 32 random bytes, URL-safe (`A-Z a-z 0-9 - _`).

    So it needs no quoting in a URL, a `.env` file or a configuration file. The leading letter
    is for nats-server, which parses the value of a `$VARIABLE` as it parses its configuration:
    a value starting with a digit or `-` may be read as a number or a date and refused (`4-x...`:
    "All ISO8601 dates must be..."), which kept a compose stack's NATS from starting.
    """
    return random.choice(string.ascii_letters) + random.token_urlsafe(32)
