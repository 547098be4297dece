"""Where nginx's dynamic modules come from: Lua (the balancer) and stream (the builder's proxy).

nginx.org's packages build the stream module in (`--with-stream`); Debian's build it as a
dynamic module (`--with-stream=dynamic`) shipped in its own package, `libnginx-mod-stream`, as
`<modules-path>/ngx_stream_module.so` (`/usr/lib/nginx/modules`). `nginx -V` says which, so the
agent asks it once at start, only when the builder is proxied, and fails the start with a
message naming the package rather than leave every release refused by `nginx -t`.

The Lua module (every app's balancer) is always needed. OpenResty builds it in (an
`--add-module=.../ngx_lua-...` in `nginx -V`); Debian ships it built apart, so `nginx -V` does
not name it: `libnginx-mod-http-lua` installs `ngx_http_lua_module.so` and the NDK it needs
(`ndk_http_module.so`, loaded first) in the modules path, and its Lua library `resty.core`
comes with `lua-resty-core`. Missing files fail the start naming the packages; whether the
module really loads (with `resty.core`) is known only from `nginx -t`, which the service runs
on an empty configuration before anything else.
"""

import asyncio
import re
import shlex
from pathlib import Path

from deis_router_agent.errors import NginxFailed

STREAM_MODULE = "ngx_stream_module.so"
LUA_MODULES = ("ndk_http_module.so", "ngx_http_lua_module.so")
"""The Lua module's files, in the order they are loaded."""
LUA_PACKAGES = "libnginx-mod-http-lua lua-resty-core"
"""Debian's (and Ubuntu's) packages of the Lua module and its library."""
DEFAULT_MODULES_PATH = Path("/usr/lib/nginx/modules")
"""Debian's (and Ubuntu's) modules directory, when `nginx -V` names none."""

_CONFIGURE = re.compile(r"^configure arguments:(.*)$", re.MULTILINE)


def _arguments(version: str) -> list[str]:
    found = _CONFIGURE.search(version)
    return shlex.split(found[1]) if found else []


def _modules_path(arguments: list[str]) -> Path:
    directory = DEFAULT_MODULES_PATH
    for argument in arguments:
        if argument.startswith("--modules-path="):
            directory = Path(argument.removeprefix("--modules-path="))
    return directory


def lua_modules(version: str) -> tuple[Path, ...]:
    """The Lua module's files to `load_module`, from `nginx -V`'s output; none if built in.

    Raises:
        NginxFailed: the Lua module's files are not installed, with the packages named.
    """
    arguments = _arguments(version)
    for argument in arguments:
        if argument.startswith("--add-module") and (
            "ngx_lua" in argument or "lua-nginx" in argument
        ):
            return ()
    directory = _modules_path(arguments)
    paths = tuple(directory / name for name in LUA_MODULES)
    for path in paths:
        if not path.is_file():
            raise NginxFailed(
                f"the router's balancer needs nginx's Lua module, and {path} is missing "
                f"(on Debian and Ubuntu: apt-get install {LUA_PACKAGES})"
            )
    return paths


def stream_module(version: str) -> Path | None:
    """The stream module's file to `load_module`, from `nginx -V`'s output; None if built in.

    Raises:
        NginxFailed: this nginx has no stream module, or its dynamic module is not installed.
    """
    arguments = _arguments(version)
    if "--with-stream" in arguments:
        return None
    if "--with-stream=dynamic" not in arguments:
        raise NginxFailed(
            "DEIS_BUILDER_UPSTREAM needs nginx's stream module, and this nginx was built "
            "without it (no --with-stream in `nginx -V`)"
        )
    path = _modules_path(arguments) / STREAM_MODULE
    if not path.is_file():
        raise NginxFailed(
            f"DEIS_BUILDER_UPSTREAM needs nginx's stream module, and {path} is missing "
            "(on Debian and Ubuntu: apt-get install libnginx-mod-stream)"
        )
    return path


async def find_stream_module(binary: str) -> Path | None:
    """Ask `binary -V` where its stream module is (see `stream_module`)."""
    return await asyncio.to_thread(stream_module, await version(binary))


async def find_lua_modules(binary: str) -> tuple[Path, ...]:
    """Ask `binary -V` where its Lua module is (see `lua_modules`)."""
    return await asyncio.to_thread(lua_modules, await version(binary))


async def version(binary: str) -> str:
    """What `binary -V` says (its version and configure arguments).

    Raises:
        NginxFailed: it did not exit 0.
    """
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
    return output.decode(errors="replace")
