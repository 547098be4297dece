"""The verdicts on KV `procs` after a scale or restart (app.settling)."""

from datetime import UTC, datetime, timedelta

from deis_controller.usecases import settling
from deis_shared.kv import procs as procs_kv

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def proc(kind, index, *, state="up", started=T0, restarts=0, exit_code=None, release=2, name=None):
    return procs_kv.Process(
        name=name or f"app-{kind}-v{release}-{index}",
        type=kind,
        index=index,
        release=release,
        state=procs_kv.ProcessState(state),
        started=started,
        restarts=restarts,
        exit_code=exit_code,
    )


def by_name(*processes):
    return {process.name: process for process in processes}


def test_a_scale_runs_once_its_counts_are_up_and_ignores_other_types_and_releases():
    before = by_name(proc("web", 1))
    seen = [proc("web", 1, state="crashed"), proc("worker", 1), proc("worker", 2, release=1)]
    assert settling.scaled(seen, version=2, counts={"worker": 2}, before=before) is None
    seen.append(proc("worker", 2, state="starting"))
    assert settling.scaled(seen, version=2, counts={"worker": 2}, before=before) is None
    seen[-1] = proc("worker", 2)
    verdict = settling.scaled(seen, version=2, counts={"worker": 2}, before=before)
    assert isinstance(verdict, settling.Running)
    assert [p.name for p in verdict.processes] == ["app-worker-v2-1", "app-worker-v2-2"]


def test_a_scale_down_waits_for_terminating_processes_not_for_stopped_ones():
    before = by_name(proc("web", 1), proc("web", 2))
    leaving = [proc("web", 1), proc("web", 2, state="terminating")]
    assert settling.scaled(leaving, version=2, counts={"web": 1}, before=before) is None
    gone = [proc("web", 1), proc("web", 2, state="down")]
    assert isinstance(
        settling.scaled(gone, version=2, counts={"web": 1}, before=before), settling.Running
    )


def test_a_crash_since_the_change_fails_it_and_an_old_one_does_not():
    before = by_name(proc("worker", 1, restarts=4))
    recovered = [proc("worker", 1, restarts=4), proc("worker", 2)]
    verdict = settling.scaled(recovered, version=2, counts={"worker": 2}, before=before)
    assert isinstance(verdict, settling.Running)
    new_crash = [
        proc("worker", 1, restarts=4),
        proc("worker", 2, state="crashed", restarts=1, exit_code=3),
    ]
    verdict = settling.scaled(new_crash, version=2, counts={"worker": 2}, before=before)
    assert isinstance(verdict, settling.Crash)
    assert verdict.reason() == "worker.2 exited with code 3"
    # Up again between two crashes: still a crash, not a success.
    flapping = [proc("worker", 1, restarts=5), proc("worker", 2)]
    verdict = settling.scaled(flapping, version=2, counts={"worker": 2}, before=before)
    assert isinstance(verdict, settling.Crash)
    assert verdict.reason() == "worker.1 exited and was restarted (5 restarts)"


def test_a_restart_settles_when_every_target_was_replaced_and_is_up():
    old = [proc("web", 1), proc("web", 2), proc("worker", 1)]
    before = by_name(*old)
    later = T0 + timedelta(minutes=1)
    half = [proc("web", 1, started=later), old[1], old[2]]
    assert settling.restarted(half, version=2, before=before, kind="web", name=None) is None
    starting = [proc("web", 1, started=later), proc("web", 2, started=later, state="starting")]
    assert settling.restarted(starting, version=2, before=before, kind="web", name=None) is None
    done = [proc("web", 1, started=later), proc("web", 2, started=later), old[2]]
    verdict = settling.restarted(done, version=2, before=before, kind="web", name=None)
    assert isinstance(verdict, settling.Running)
    assert [p.type for p in verdict.processes] == ["web", "web"]
    everything = settling.restarted(done, version=2, before=before, kind=None, name=None)
    assert everything is None  # the worker was not replaced yet


def test_a_pod_restart_finds_its_replacement_by_a_new_name_and_nothing_to_restart_is_at_once():
    old = proc("web", 1, name="app-web-123456789-abcde")
    before = by_name(old, proc("web", 2, name="app-web-123456789-zzzzz"))
    new = proc("web", 1, name="app-web-123456789-fghij", started=T0 + timedelta(minutes=1))
    seen = [
        proc("web", 1, name=old.name, state="terminating"),
        new,
        before["app-web-123456789-zzzzz"],
    ]
    verdict = settling.restarted(seen, version=2, before=before, kind="web", name=old.name)
    assert verdict == settling.Running([new])
    nothing = settling.restarted(seen, version=2, before=before, kind="web", name="app-web-9-x")
    assert nothing == settling.Running([])
