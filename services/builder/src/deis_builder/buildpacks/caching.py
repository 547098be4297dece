"""The per-app dependency cache: the last installed tree, reused while its inputs are unchanged.

A buildpack keys what it installs (a hash of the requirements and the tool's version), and
keeps the last tree it installed next to that key:

    <cache_dir>/python/key     <cache_dir>/python/site
    <cache_dir>/node/key       <cache_dir>/node/node_modules

A push whose key matches gets a copy of the tree and runs no installer at all. Copies are
reflinks where the file system can make them, else plain copies: not hard links, which do not
cross the sandbox's two mounts (the build's tree, the cache), and would let a later build's
scripts change the cached files through the slug's.

The cache is the build's to write (the app's install scripts ran with it mounted), so every
look and copy runs inside the build's sandbox, as the build (see `sandboxing`): a symlink
planted in the cache or the tree leads nowhere the build could not go anyway.

The tree is replaced so that a crash at any point leaves either no key or a key that matches
its tree: the key goes first, the new tree is copied aside and renamed into place, and the new
key is written last (also by rename). A cancelled build kills the copy; what it left aside is
removed by the next store.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from deis_builder.buildpacks import output, running
from deis_builder.errors import BuildFailed
from deis_shared.sandbox import Sandbox

_TEMP_PREFIX: Final = ".tmp-"
_COPY: Final = "cp -a --reflink=auto --"
_HOLDS: Final = (
    'if [ -d "$1/$2" ] && [ ! -L "$1/$2" ] && [ -f "$1/key" ] && [ ! -L "$1/key" ]'
    ' && [ "$(cat -- "$1/key")" = "$3" ]; then echo yes; else echo no; fi'
)
_RESTORE: Final = f'set -eu; mkdir -p -- "$(dirname -- "$2")"; {_COPY} "$1" "$2"'
_STORE: Final = (
    'set -eu; root=$1; name=$2; key=$3; source=$4; mkdir -p -- "$root";'
    f' rm -rf -- "$root"/{_TEMP_PREFIX}*; rm -f -- "$root/key";'
    f' staging=$(mktemp -d "$root/{_TEMP_PREFIX}XXXXXXXX");'
    ' if [ -d "$source" ] && [ ! -L "$source" ];'
    f' then {_COPY} "$source" "$staging/$name"; else mkdir -- "$staging/$name"; fi;'
    ' if [ -e "$root/$name" ] || [ -L "$root/$name" ];'
    ' then mv -- "$root/$name" "$staging/old"; fi;'
    ' mv -- "$staging/$name" "$root/$name"; rm -rf -- "$staging";'
    f' printf %s "$key" > "$root/{_TEMP_PREFIX}key";'
    f' mv -f -- "$root/{_TEMP_PREFIX}key" "$root/key"'
)


def key_of(*parts: bytes | str) -> str:
    """A cache key over the given inputs, each one delimited so that no two lists collide."""
    digest = hashlib.sha256()
    for part in parts:
        raw = part.encode() if isinstance(part, str) else part
        digest.update(len(raw).to_bytes(8, "big"))
        digest.update(raw)
    return digest.hexdigest()


@dataclass(frozen=True)
class TreeCache:
    """One cached tree and its key, under `root`, handled inside the build's sandbox."""

    root: Path
    """The buildpack's directory in the app's cache (`<cache_dir>/python`)."""
    name: str
    """The tree's name in `root` (`site`, `node_modules`)."""
    sandbox: Sandbox
    """The build's sandbox, where the cache is mounted."""
    env: Mapping[str, str]
    """The build's environment."""

    @property
    def tree(self) -> Path:
        """The cached tree."""
        return self.root / self.name

    @property
    def key_file(self) -> Path:
        """The file holding the key the cached tree was installed for."""
        return self.root / "key"

    async def holds(self, key: str) -> bool:
        """Whether the cached tree was installed for this key.

        Raises:
            BuildFailed: the sandbox could not run the check.
        """
        answer = await running.capture(
            ["sh", "-c", _HOLDS, "sh", str(self.root), self.name, key],
            sandbox=self.sandbox,
            cwd=Path(self.sandbox.workdir),
            env=self.env,
        )
        return answer.strip() == "yes"

    async def restore(self, *, into: Path, out: output.Output) -> None:
        """Copy the cached tree to `into`, which must not exist yet.

        Raises:
            BuildFailed: the copy failed.
        """
        await self._sh(_RESTORE, str(self.tree), str(into), out=out, doing="restored")

    async def store(self, *, key: str, source: Path, out: output.Output) -> None:
        """Replace the cached tree with a copy of `source` (empty if missing), under `key`.

        Raises:
            BuildFailed: the copy failed; the cache then holds no key.
        """
        await self._sh(_STORE, str(self.root), self.name, key, str(source), out=out, doing="stored")

    async def _sh(self, script: str, *args: str, out: output.Output, doing: str) -> None:
        try:
            await running.run(
                ["sh", "-c", script, "sh", *args],
                sandbox=self.sandbox,
                cwd=Path(self.sandbox.workdir),
                env=self.env,
                out=out,
            )
        except BuildFailed as exc:
            raise BuildFailed(f"the cached {self.name} could not be {doing} ({exc})") from exc
