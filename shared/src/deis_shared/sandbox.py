"""The tenant boundary on one machine: every app process and every build runs in a sandbox.

`confine` is the one function that decides what a confined process sees and may do; the
scheduler's local backend (app processes, `deis run`) and the builder (buildpack steps) both
start their children through it. It wraps a command in bubblewrap (Debian's `bubblewrap`,
`bwrap`), started as the app's own user id, so that:

- the process runs as a user id of its own per app (`UidTable`), never root: files and
  processes of the platform and of other apps are out of its reach by plain Unix rights;
- it has a fresh mount namespace holding the system read-only (`/usr` and its links, `/etc`),
  a private `/dev` and `/proc`, a private `/tmp` (tmpfs), and only the directories its caller
  mounts (the slug read-only; a build's tree and cache writable); the platform's data dir,
  builder repos, other apps' slugs and the platform's credentials are simply not there;
- it has its own PID, IPC and UTS namespaces: it sees no other process (`/proc/<pid>/environ`
  of the platform is not there to read) and can signal none; no user namespace can be made
  inside it (`--disable-userns`);
- it shares the host's network, as the router reaches apps on loopback: the platform's
  PostgreSQL and NATS are reachable, and refuse it for want of credentials, which it never gets;
- `RLIMIT_NPROC` caps the processes (threads included) of the app's user id, across all its
  processes, so a fork bomb stalls inside its app; `RLIMIT_DATA` caps memory as before.

bwrap runs unprivileged (the kernel's unprivileged user namespaces): the caller switches to the
app's user id before bwrap starts (`Confined.uid`, `Confined.gid`, no supplementary groups).
Every path the caller mounts, and the path to it, must be reachable by that user id.

With a PID namespace, bwrap leaves two processes above the command: itself (the leader the
caller watches, which exits with the command's code, 128 + n when killed by signal n) and an
init inside the namespace; when the init goes, the kernel kills everything left inside. A
SIGTERM meant for the command must skip the leader, which has no handler and would die at once
(`local.processes` in the scheduler does so); SIGKILL to the group takes everything.
"""

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

BWRAP: Final = "bwrap"
"""bubblewrap's program."""

PRLIMIT: Final = "prlimit"
"""util-linux's prlimit, which starts bwrap under the given resource limits."""

SYSTEM_DIRS: Final = ("/usr",)
"""Bound read-only into every sandbox."""

SYSTEM_LINKS: Final = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
"""Bound read-only too: symlinks into `/usr` on merged-usr systems, real dirs elsewhere."""

SYSTEM_PATH: Final = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""The PATH that finds the system's programs inside a sandbox."""

CONFIG_DIR: Final = "/etc"
"""The system's configuration, read-only (DNS, CA certificates, time zones, ...)."""

TMP_BYTES: Final = 256 * 1024 * 1024
"""Size of the private `/tmp` (a tmpfs, in memory)."""

ROOT_UID: Final = 0


class SandboxUnavailable(RuntimeError):
    """This host cannot run sandboxes: no bwrap, or no unprivileged user namespaces."""


@dataclass(frozen=True)
class Mount:
    """A host directory made visible inside the sandbox."""

    source: Path
    """The host path (absolute)."""
    target: str
    """Where it appears inside (absolute)."""
    writable: bool = False


@dataclass(frozen=True)
class Sandbox:
    """What one confined process may see and use."""

    uid: int | None
    """The user id (and group id) it runs as; None keeps the caller's own, which must not be
    root (an unprivileged caller has no other user to give)."""
    mounts: tuple[Mount, ...]
    """Its own directories, beyond the read-only system."""
    workdir: str
    """Its working directory, inside."""
    hostname: str
    """The name it sees as the host's (an app's name)."""
    max_processes: int | None = None
    """`RLIMIT_NPROC` of its user id: processes and threads, across the app; None: no cap."""
    memory_bytes: int | None = None
    """`RLIMIT_DATA`, inherited by everything it starts; None: no cap."""
    tmp_bytes: int = TMP_BYTES
    """Size of its private `/tmp`."""
    die_with_parent: bool = False
    """Kill it when its starter dies (builds); app processes outlive the scheduler."""
    block_fd: int | None = None
    """A descriptor bwrap reads before running the command (the caller moves the sandbox into
    a cgroup meanwhile, then writes a byte); the caller passes it to the child."""


@dataclass(frozen=True)
class Confined:
    """How to start a confined process: this argv, as this user and group, no other group."""

    argv: list[str]
    uid: int | None
    gid: int | None


def confine(argv: Sequence[str], sandbox: Sandbox) -> Confined:
    """The command line that runs `argv` inside `sandbox`, and the identity to start it as.

    The environment is the caller's to give (the child's whole environment passes through
    bwrap unchanged); give it nothing of the platform's.

    Raises:
        ValueError: the sandbox would run as root, a mount is not absolute or would hide the
            system, or `argv` is empty.
    """
    if not argv:
        raise ValueError("empty command")
    if sandbox.uid == ROOT_UID or (sandbox.uid is None and os.geteuid() == ROOT_UID):
        raise ValueError("a sandbox never runs as root")
    if sandbox.uid is not None and sandbox.uid < 0:
        raise ValueError(f"invalid user id {sandbox.uid}")
    limits = []
    if sandbox.max_processes is not None:
        limits.append(f"--nproc={sandbox.max_processes}")
    if sandbox.memory_bytes is not None:
        limits.append(f"--data={sandbox.memory_bytes}")
    wrapped = [PRLIMIT, *limits, "--"] if limits else []
    bwrap = [
        BWRAP,
        "--unshare-all",
        "--unshare-user",
        "--share-net",
        "--disable-userns",
        "--hostname",
        sandbox.hostname,
    ]
    for path in SYSTEM_DIRS:
        bwrap += ["--ro-bind", path, path]
    for path in SYSTEM_LINKS:
        if os.path.islink(path):
            bwrap += ["--symlink", os.readlink(path), path]
        else:
            bwrap += ["--ro-bind-try", path, path]
    bwrap += ["--ro-bind", CONFIG_DIR, CONFIG_DIR, "--proc", "/proc", "--dev", "/dev"]
    bwrap += ["--size", str(sandbox.tmp_bytes), "--tmpfs", "/tmp"]
    for mount in sandbox.mounts:
        _check_mount(mount)
        bwrap += ["--bind" if mount.writable else "--ro-bind", str(mount.source), mount.target]
    if sandbox.die_with_parent:
        bwrap.append("--die-with-parent")
    if sandbox.block_fd is not None:
        bwrap += ["--block-fd", str(sandbox.block_fd)]
    bwrap += ["--chdir", sandbox.workdir, "--", *argv]
    uid = sandbox.uid
    return Confined(argv=[*wrapped, *bwrap], uid=uid, gid=uid)


def _check_mount(mount: Mount) -> None:
    """Refuse mounts that are relative or would cover the system the sandbox relies on."""
    target = os.path.normpath(mount.target)
    if not mount.source.is_absolute() or not os.path.isabs(target) or target != mount.target:
        raise ValueError(f"mount {mount.source} -> {mount.target}: absolute, normal paths only")
    covered = (*SYSTEM_DIRS, *SYSTEM_LINKS, CONFIG_DIR, "/proc", "/dev", "/tmp", "/")
    if any(target == path or path.startswith(target + "/") for path in covered):
        raise ValueError(f"mount {mount.source} -> {target} would cover the system")


def check_available() -> None:
    """Run `true` in a sandbox, as an unprivileged user id, to learn whether this host can.

    Raises:
        SandboxUnavailable: bwrap is missing or cannot make its namespaces here; the message
            says what to install or enable.
    """
    if shutil.which(BWRAP) is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed: apps and builds run only in its sandbox"
            " (Debian: apt-get install bubblewrap)"
        )
    probe_uid = PROBE_UID if os.geteuid() == ROOT_UID else None
    confined = confine(["true"], Sandbox(uid=probe_uid, mounts=(), workdir="/", hostname="probe"))
    try:
        result = subprocess.run(
            confined.argv,
            user=confined.uid,
            group=confined.gid,
            extra_groups=[] if confined.uid is not None else None,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
            check=False,
            cwd="/",
            env={"PATH": os.defpath},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailable(f"bwrap cannot start: {exc}") from exc
    if result.returncode != 0:
        said = result.stderr.decode(errors="replace").strip().splitlines()
        raise SandboxUnavailable(
            f"bwrap cannot make a sandbox here ({said[-1] if said else result.returncode}):"
            " unprivileged user namespaces must be enabled"
            " (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)"
        )


PROBE_UID: Final = 65_533
"""The user id `check_available` probes with (below `nobody`, in no app's range)."""


class UidTable:
    """User ids given to apps, one each, kept in a JSON file so that they last across restarts.

    Ids come from `[first, first + count)`; an app keeps its id for good (its deletion does
    not free it, so no new app can meet files or processes an old one left).
    """

    def __init__(self, path: Path, *, first: int, count: int) -> None:
        """Keep the table in `path` (created 0600 on first use)."""
        if first <= ROOT_UID or count <= 0:
            raise ValueError("user ids for apps start above 0")
        self.path = path
        self.first = first
        self.count = count
        self._lock = threading.Lock()

    def uid(self, app: str) -> int:
        """The user id of `app`, given now if it has none.

        Raises:
            RuntimeError: every id of the range is taken.
            OSError: the table cannot be read or written.
        """
        with self._lock:
            table = self._read()
            if app in table:
                return table[app]
            taken = set(table.values())
            for uid in range(self.first, self.first + self.count):
                if uid not in taken:
                    table[app] = uid
                    self._write(table)
                    return uid
            raise RuntimeError(f"no user id left for {app}: all {self.count} are taken")

    def _read(self) -> dict[str, int]:
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        return {str(app): int(uid) for app, uid in raw.items()}

    def _write(self, table: dict[str, int]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        staging = self.path.with_name(f".{self.path.name}.new")
        descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(table, file, sort_keys=True)
            file.flush()
            os.fsync(file.fileno())
        os.replace(staging, self.path)
