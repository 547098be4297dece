"""Where nginx's stream module comes from, for the builder's TCP proxy (`stream { }`).

nginx.org's packages build the stream module in (`--with-stream`); Debian's build it as a
dynamic module (`--with-stream=dynamic`) shipped in its own package, `libnginx-mod-stream`, as
`<modules-path>/ngx_stream_module.so` (`/usr/lib/nginx/modules`). `nginx -V` says which, so the
agent asks it once at start, only when the builder is proxied, and fails the start with a
message naming the package rather than leave every release refused by `nginx -t`.
"""

import asyncio
import re
import shlex
from pathlib import Path

from deis_router_agent.errors import NginxFailed

STREAM_MODULE = "ngx_stream_module.so"
DEFAULT_MODULES_PATH = Path("/usr/lib/nginx/modules")
"""Debian's (and Ubuntu's) modules directory, when `nginx -V` names none."""

_CONFIGURE = re.compile(r"^configure arguments:(.*)$", re.MULTILINE)


def stream_module(version: str) -> Path | None:
    """The stream module's file to `load_module`, from `nginx -V`'s output; None if built in.

    Raises:
        NginxFailed: this nginx has no stream module, or its dynamic module is not installed.
    """
    found = _CONFIGURE.search(version)
    arguments = shlex.split(found[1]) if found else []
    if "--with-stream" in arguments:
        return None
    if "--with-stream=dynamic" not in arguments:
        raise NginxFailed(
            "DEIS_BUILDER_UPSTREAM needs nginx's stream module, and this nginx was built "
            "without it (no --with-stream in `nginx -V`)"
        )
    directory = DEFAULT_MODULES_PATH
    for argument in arguments:
        if argument.startswith("--modules-path="):
            directory = Path(argument.removeprefix("--modules-path="))
    path = directory / STREAM_MODULE
    if not path.is_file():
        raise NginxFailed(
            f"DEIS_BUILDER_UPSTREAM needs nginx's stream module, and {path} is missing "
            "(on Debian and Ubuntu: apt-get install libnginx-mod-stream)"
        )
    return path


async def find_stream_module(binary: str) -> Path | None:
    """Ask `binary -V` where its stream module is (see `stream_module`)."""
    process = await asyncio.create_subprocess_exec(
        binary,
        "-V",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise NginxFailed(f"{binary} -V exited {process.returncode}")
    return await asyncio.to_thread(stream_module, output.decode(errors="replace"))
