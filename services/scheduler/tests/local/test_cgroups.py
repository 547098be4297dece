import asyncio
import os
import sys
from pathlib import Path

import pytest

from deis_scheduler.local import cgroups
from deis_scheduler.local.processes import LocalProcess
from deis_shared.limits import InvalidLimit
from deis_testing import unique_name


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, None),
        ("500m", 500),
        ("0.5", 500),
        ("2", 2000),
        (".25", 250),
        ("100m/2", 2000),
        ("0", None),
        ("0m", None),
    ],
)
def test_cpu_specs_become_millicores(spec, expected):
    assert cgroups.millicores(spec) == expected


@pytest.mark.parametrize("spec", ["", "-1", "1 cpu", "2x", "1/", "m", "0.0001", "2/1", "5000"])
def test_invalid_cpu_specs_are_refused(spec):
    with pytest.raises(InvalidLimit):
        cgroups.millicores(spec)


@pytest.mark.parametrize(
    "name", ["", "..", "../escape", "a/b", "/abs", "a/../../b", "A-web-v1-1", "x\n", "-web"]
)
def test_group_names_cannot_leave_the_root(tmp_path, name):
    control = cgroups.CpuControl(root=tmp_path, version=1)
    with pytest.raises(ValueError, match="not a process name"):
        control.group(name)


def test_a_host_without_a_cpu_controller_has_no_control(tmp_path):
    assert cgroups.find(tmp_path) is None


def test_a_v2_hierarchy_is_found_and_prepared(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    control = cgroups.find(tmp_path)
    assert control == cgroups.CpuControl(root=tmp_path / "deis", version=2)
    assert (tmp_path / "deis" / "cgroup.subtree_control").read_text() == "+cpu"


async def test_a_limited_process_is_throttled_and_its_group_removed(tmp_path: Path):
    control = cgroups.find()
    if control is None:
        pytest.skip("no writable cgroup CPU controller on this host")
    name = unique_name("app-") + "-worker-v1-1"
    proc = LocalProcess(name=name, label="worker.1", output_dir=tmp_path, run_as=None)
    env = {"PATH": os.defpath}
    await proc.start(
        command=f"exec {sys.executable} -c 'while True: pass'",
        cwd=tmp_path,
        env=env,
        on_line=lambda _: None,
    )
    assert proc.pid is not None
    try:
        assert cgroups.limit(control, name=name, pid=proc.pid, millicores=100)
        assert cgroups.holds(control, name=name, pid=proc.pid)
        group = control.group(name)
        if control.version == 1:
            assert (group / "cpu.cfs_quota_us").read_text().strip() == "10000"
        else:
            assert (group / "cpu.max").read_text().split() == ["10000", "100000"]

        def throttled() -> int:
            for line in (group / "cpu.stat").read_text().splitlines():
                key, value = line.split()
                if key == "nr_throttled":
                    return int(value)
            return 0

        async with asyncio.timeout(10):
            while throttled() == 0:  # noqa: ASYNC110 -- the kernel's counter, not ours
                await asyncio.sleep(0.05)
    finally:
        await proc.stop(grace=0)
    cgroups.release(control, name=name)
    assert not control.group(name).exists()
