"""The tenant boundary: what `confine` refuses to build, and what a confined process can reach.

The behaviour tests run real bubblewrap sandboxes, as the tests' user (root in CI, so the
sandbox runs as an app's user id) and as an unprivileged user id.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from deis_shared import sandbox
from deis_shared.sandbox import Mount, Sandbox, UidTable
from deis_testing import traversable

APP_UID = 231_000
NEIGHBOUR_UID = 231_001

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="user ids of their own need root")


def run(
    script: str, box: Sandbox, *, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run `script` with `/bin/sh -c` in `box`; stdout and stderr captured."""
    confined = sandbox.confine(["/bin/sh", "-c", script], box)
    return subprocess.run(
        confined.argv,
        user=confined.uid,
        group=confined.gid,
        extra_groups=[] if confined.uid is not None else None,
        env=env if env is not None else {"PATH": sandbox.SYSTEM_PATH},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd="/",
    )


@pytest.fixture
def slug(tmp_path: Path) -> Path:
    """A slug directory the app may read: `app.txt` in it."""
    directory = traversable(tmp_path / "slug")
    (directory / "app.txt").write_text("the app\n")
    directory.chmod(0o755)
    (directory / "app.txt").chmod(0o644)
    return directory


def box_for(slug: Path, *, uid: int | None = APP_UID, max_processes: int | None = None) -> Sandbox:
    if os.geteuid() != 0:
        uid = None
    return Sandbox(
        uid=uid,
        mounts=(Mount(slug, "/app"),),
        workdir="/app",
        hostname="myapp",
        max_processes=max_processes,
    )


# --- what confine refuses -------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    ["/", "/usr", "/usr/", "/etc", "/proc", "/dev", "/tmp", "/lib", "/bin", "/app/../usr", "app"],
)
def test_a_mount_over_the_system_or_not_absolute_and_normal_is_refused(target: str) -> None:
    box = Sandbox(uid=APP_UID, mounts=(Mount(Path("/srv"), target),), workdir="/", hostname="a")
    with pytest.raises(ValueError, match="mount"):
        sandbox.confine(["true"], box)


def test_a_relative_source_is_refused() -> None:
    box = Sandbox(uid=APP_UID, mounts=(Mount(Path("srv"), "/app"),), workdir="/", hostname="a")
    with pytest.raises(ValueError, match="absolute"):
        sandbox.confine(["true"], box)


def test_root_is_refused_whoever_asks() -> None:
    box = Sandbox(uid=0, mounts=(), workdir="/", hostname="a")
    with pytest.raises(ValueError, match="root"):
        sandbox.confine(["true"], box)
    with pytest.raises(ValueError, match="user id"):
        sandbox.confine(["true"], Sandbox(uid=-1, mounts=(), workdir="/", hostname="a"))


@needs_root
def test_as_root_a_sandbox_without_a_user_id_is_refused() -> None:
    with pytest.raises(ValueError, match="root"):
        sandbox.confine(["true"], Sandbox(uid=None, mounts=(), workdir="/", hostname="a"))


def test_an_empty_command_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        sandbox.confine([], Sandbox(uid=APP_UID, mounts=(), workdir="/", hostname="a"))


def test_the_command_line_names_the_limits_and_no_shell() -> None:
    box = Sandbox(
        uid=APP_UID,
        mounts=(Mount(Path("/srv/x"), "/app"),),
        workdir="/app",
        hostname="a",
        max_processes=64,
        memory_bytes=1 << 20,
        block_fd=7,
    )
    confined = sandbox.confine(["python3", "app.py; rm -rf /"], box)
    assert confined.argv[:4] == ["prlimit", "--nproc=64", f"--data={1 << 20}", "--"]
    assert confined.argv[-3:] == ["--", "python3", "app.py; rm -rf /"]
    source = confined.argv.index("/srv/x")
    assert confined.argv[source - 1 : source + 2] == ["--ro-bind", "/srv/x", "/app"]
    assert "--block-fd" in confined.argv
    assert (confined.uid, confined.gid) == (APP_UID, APP_UID)


# --- what a confined process can reach ----------------------------------------------------


def test_it_runs_as_its_own_user_in_its_own_pid_namespace(slug: Path) -> None:
    result = run("id -u; id -G; hostname; echo $$; ls /proc | grep -c '^[0-9]'", box_for(slug))
    assert result.returncode == 0, result.stderr
    uid, groups, hostname, pid, processes = result.stdout.split("\n")[:5]
    expected = APP_UID if os.geteuid() == 0 else os.geteuid()
    assert int(uid) == expected
    assert groups.split() == [str(expected)]
    assert hostname == "myapp"
    assert int(pid) <= 3  # bwrap's init is 1
    assert int(processes) <= 5  # init, sh, ls, grep: nothing of the host


def test_the_slug_and_system_are_read_only_and_tmp_is_private(slug: Path, tmp_path: Path) -> None:
    script = (
        "cat /app/app.txt;"
        " touch /app/x 2>/dev/null || echo slug-ro;"
        " touch /usr/x 2>/dev/null || echo usr-ro;"
        " touch /etc/x 2>/dev/null || echo etc-ro;"
        " echo mine > /tmp/mine && cat /tmp/mine"
    )
    result = run(script, box_for(slug))
    assert result.stdout.split() == ["the", "app", "slug-ro", "usr-ro", "etc-ro", "mine"]
    assert not (slug / "x").exists()
    assert not Path("/tmp/mine").exists() or Path("/tmp/mine").stat().st_uid != APP_UID


def test_the_hosts_files_outside_its_mounts_are_not_there(slug: Path, tmp_path: Path) -> None:
    secret = tmp_path / "platform" / "secrets" / "nats-controller"
    secret.parent.mkdir(parents=True)
    secret.write_text("hunter2")
    script = (
        f"cat {secret} 2>&1; ls {tmp_path} 2>&1; ls /root 2>&1; ls /var 2>&1;"
        " ls /home 2>&1; cat /proc/1/environ | tr '\\0' '\\n' | grep -c HUNTER"
    )
    result = run(script, box_for(slug), env={"PATH": sandbox.SYSTEM_PATH, "MINE": "yes"})
    assert "hunter2" not in result.stdout
    assert "No such file or directory" in result.stdout
    assert result.stdout.rstrip().endswith("0")


def test_other_processes_cannot_be_seen_or_signalled(slug: Path) -> None:
    canary = subprocess.Popen(["sleep", "60"])
    try:
        script = (
            f"kill -9 {canary.pid} 2>&1 || echo kill-failed;"
            f" test -e /proc/{canary.pid}/environ && cat /proc/{canary.pid}/cmdline || echo unseen"
        )
        result = run(script, box_for(slug))
        assert "kill-failed" in result.stdout
        assert canary.poll() is None
    finally:
        canary.kill()
        canary.wait()


def test_no_user_namespace_can_be_made_inside(slug: Path) -> None:
    result = run("unshare --user --map-root-user id -u 2>&1 || echo refused", box_for(slug))
    assert "refused" in result.stdout


@needs_root
def test_a_fork_bomb_stops_at_its_apps_process_cap_and_a_neighbour_runs_on(slug: Path) -> None:
    bomb = run(
        "for i in $(seq 100); do sleep 3 & done 2>&1; wait",
        box_for(slug, max_processes=40),
        timeout=60,
    )
    assert "fork" in (bomb.stdout + bomb.stderr).lower()  # "Cannot fork" from the shell
    neighbour = run(
        "for i in $(seq 60); do true & done; wait; echo fine",
        box_for(slug, uid=NEIGHBOUR_UID, max_processes=200),
    )
    assert neighbour.stdout.strip() == "fine"


@needs_root
def test_the_cap_counts_every_process_of_the_app_together(slug: Path) -> None:
    """Two processes of one app share its user id, so one cannot start while the other holds
    the whole cap: the bomb stays inside its app."""
    box = box_for(slug, max_processes=30)
    hold = "for i in $(seq 40); do sleep 20 & done; wait"
    confined = sandbox.confine(["/bin/sh", "-c", hold], box)
    holder = subprocess.Popen(
        confined.argv,
        user=confined.uid,
        group=confined.gid,
        extra_groups=[],
        env={"PATH": sandbox.SYSTEM_PATH},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        time.sleep(1.0)
        second = run("echo started", box)
        assert "started" not in second.stdout
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()


# --- user ids ------------------------------------------------------------------------------


def test_each_app_gets_its_own_user_id_for_good(tmp_path: Path) -> None:
    table = UidTable(tmp_path / "uids.json", first=5000, count=3)
    assert [table.uid("a"), table.uid("b"), table.uid("a")] == [5000, 5001, 5000]
    again = UidTable(tmp_path / "uids.json", first=5000, count=3)
    assert again.uid("b") == 5001
    assert again.uid("c") == 5002
    with pytest.raises(RuntimeError, match="no user id left"):
        again.uid("d")
    assert (tmp_path / "uids.json").stat().st_mode & 0o777 == 0o600


def test_a_range_including_root_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="above 0"):
        UidTable(tmp_path / "uids.json", first=0, count=10)


@pytest.fixture
def no_bwrap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))


def test_a_host_without_bwrap_is_told_what_to_install(no_bwrap: None) -> None:
    with pytest.raises(sandbox.SandboxUnavailable, match="apt-get install bubblewrap"):
        sandbox.check_available()


def test_this_host_can_run_sandboxes() -> None:
    sandbox.check_available()
