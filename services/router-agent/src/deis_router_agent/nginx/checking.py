"""`nginx -t` on a release directory, before it can go live."""

import asyncio
import shutil
from pathlib import Path

FALLBACK_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin")


def find_binary(name: str) -> str:
    """The nginx executable: `name` if it is a path, else looked up in PATH and the sbin dirs.

    Raises:
        FileNotFoundError: no nginx found.
    """
    found = shutil.which(name) or shutil.which(name, path=":".join(FALLBACK_DIRS))
    if found is None:
        raise FileNotFoundError(f"nginx executable {name!r} not found")
    return found


async def check(*, binary: str, prefix: Path, conf: Path) -> str | None:
    """Validate `conf` as nginx would load it; None if it passes, else nginx's message."""
    process = await asyncio.create_subprocess_exec(
        binary,
        "-t",
        "-q",
        "-p",
        f"{prefix}/",
        "-c",
        str(conf),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await process.communicate()
    except BaseException:
        # Cancelled (the agent is stopping): end the check here rather than leave its process
        # and pipes to an event loop that may be closed before they are reaped.
        if process.returncode is None:
            process.kill()
        await asyncio.shield(process.wait())
        raise
    if process.returncode == 0:
        return None
    return output.decode(errors="replace").strip() or f"nginx -t exited {process.returncode}"
