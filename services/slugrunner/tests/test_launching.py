import os
import subprocess
import sys
from pathlib import Path

import pytest

from deis_slugrunner import launching


def test_shell_runs_the_command_line_with_sh(tmp_path: Path) -> None:
    launch = launching.shell("echo hi", env={"A": "b"}, cwd=tmp_path, uid=7)
    assert launch == launching.Launch(
        argv=["/bin/sh", "-c", "echo hi"], env={"A": "b"}, cwd=tmp_path, uid=7
    )


def test_the_app_never_runs_as_root() -> None:
    with pytest.raises(ValueError, match="root"):
        launching.app_uid(0)
    with pytest.raises(ValueError, match="root"):
        launching.drop_privileges(0)


def test_the_app_is_switched_to_its_user_only_from_root() -> None:
    assert launching.app_uid(1000) == (1000 if os.geteuid() == 0 else None)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give files away")
def test_give_to_hands_over_the_whole_tree_but_not_link_targets(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_text("")
    tree = tmp_path / "app"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "f").write_text("")
    (tree / "link").symlink_to(outside)
    launching.give_to(tree, 1000)
    assert {p.lstat().st_uid for p in [tree, *tree.rglob("*")]} == {1000}
    assert {p.lstat().st_gid for p in [tree, *tree.rglob("*")]} == {1000}
    assert outside.stat().st_uid == os.geteuid()


def test_execute_replaces_the_process_as_the_apps_user(tmp_path: Path) -> None:
    uid = 1000 if os.geteuid() == 0 else None
    probe = (
        "import os, sys; from pathlib import Path; from deis_slugrunner import launching;"
        "print(os.getpid(), flush=True);"
        "launching.execute(launching.shell('echo $$ $PWD $ONLY; id -u; id -G',"
        f" env={{'ONLY': 'this', 'PATH': '/usr/bin:/bin'}}, cwd=Path({str(tmp_path)!r}),"
        f" uid={uid}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    expected_uid = str(uid if uid is not None else os.getuid())
    groups = [expected_uid] if uid is not None else out[5:]
    assert out == [out[0], out[0], str(tmp_path), "this", expected_uid, *groups]
