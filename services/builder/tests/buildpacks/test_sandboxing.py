import os
import stat
from pathlib import Path

import pytest

from deis_builder.buildpacks import sandboxing
from deis_shared.sandbox import SYSTEM_PATH, SandboxUnavailable
from deis_testing import traversable

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="gives directories to other users")


def test_the_environment_is_the_sandboxs_with_the_locale_and_build_env() -> None:
    home = Path("/data/builds/x/tree/home")
    env = sandboxing.environment({"PIP_INDEX_URL": "https://mirror", "PATH": "/evil"}, home=home)
    assert env == {
        "PIP_INDEX_URL": "https://mirror",
        "LANG": "C.UTF-8",
        "PATH": SYSTEM_PATH,
        "HOME": str(home),
    }
    assert sandboxing.environment({"LANG": "de_DE.UTF-8"}, home=home)["LANG"] == "de_DE.UTF-8"


def test_the_sandbox_mounts_the_tree_and_the_cache_at_their_own_paths(
    space: sandboxing.Workspace,
) -> None:
    sandbox = sandboxing.build_sandbox(space, app="web", max_processes=99)
    mounts = {(str(m.source), m.target, m.writable) for m in sandbox.mounts}
    assert mounts == {
        (str(space.tree), str(space.tree), True),
        (str(space.cache_dir), str(space.cache_dir), True),
    }
    assert (sandbox.uid, sandbox.hostname, sandbox.max_processes) == (space.uid, "web", 99)
    assert sandbox.die_with_parent


@pytest.mark.parametrize(
    ("path", "seen"),
    [
        ("/usr/bin/python3", True),
        ("/bin/sh", True),
        ("python3", False),
        ("/root/.pyenv/shims/python3", False),
        ("/usr/../root/python3", False),
    ],
)
def test_only_programs_in_the_system_trees_are_there_in_a_sandbox(path: str, seen: bool) -> None:
    assert sandboxing.in_system(path) is seen


def test_a_link_from_elsewhere_into_usr_is_not_there(tmp_path: Path) -> None:
    (tmp_path / "python3").symlink_to("/usr/bin/python3")
    assert not sandboxing.in_system(str(tmp_path / "python3"))


@needs_root
def test_the_tree_and_cache_are_the_builds_and_the_work_dir_the_builders(tmp_path: Path) -> None:
    space = sandboxing.prepare(
        work=tmp_path / "builds" / "w1", cache_dir=tmp_path / "cache" / "app", uid=300_123
    )
    for path in (space.tree, space.app_dir, space.home, space.cache_dir):
        info = path.stat()
        assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (300_123, 300_123, 0o700)
    assert space.work.stat().st_uid == 0
    assert stat.S_IMODE(space.work.stat().st_mode) == 0o711


@needs_root
def test_a_cache_of_another_owner_is_emptied_not_trusted(tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "app"
    (cache / "node").mkdir(parents=True)
    (cache / "node" / "key").write_text("made by root, before builds were confined")
    space = sandboxing.prepare(work=tmp_path / "w1", cache_dir=cache, uid=300_123)
    assert list(space.cache_dir.iterdir()) == []
    assert space.cache_dir.stat().st_uid == 300_123

    (cache / "kept").mkdir()
    os.chown(cache / "kept", 300_123, 300_123)
    sandboxing.prepare(work=tmp_path / "w2", cache_dir=cache, uid=300_123)
    assert [p.name for p in cache.iterdir()] == ["kept"]


@needs_root
def test_the_data_dir_lets_builds_pass_and_keeps_repos_closed(tmp_path: Path) -> None:
    data = traversable(tmp_path) / "builder"
    data.mkdir(mode=0o700)
    sandboxing.open_data_dir(
        data_dir=data, scratch=data / "builds", caches=data / "cache", repos=data / "repos"
    )
    assert stat.S_IMODE(data.stat().st_mode) == 0o701
    assert stat.S_IMODE((data / "builds").stat().st_mode) == 0o711
    assert stat.S_IMODE((data / "cache").stat().st_mode) == 0o711
    assert stat.S_IMODE((data / "repos").stat().st_mode) == 0o700


@needs_root
def test_a_data_dir_behind_a_closed_directory_is_refused(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    data = closed / "builder"
    with pytest.raises(SandboxUnavailable, match=f"cannot pass through {closed} to reach"):
        sandboxing.open_data_dir(
            data_dir=data, scratch=data / "builds", caches=data / "cache", repos=data / "repos"
        )
