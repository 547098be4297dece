import asyncio

import pytest

from deis_shared.tasks import Supervisor, SupervisorState


async def test_an_eternal_task_that_returns_is_fatal() -> None:
    tasks = Supervisor()

    async def quits() -> None:
        return None

    tasks.spawn(quits(), name="quitter")
    await asyncio.wait_for(tasks.failed.wait(), timeout=1)
    assert tasks.failure == "task 'quitter' ended"
    await tasks.stop(grace=1)


async def test_an_eternal_task_that_raises_is_fatal_with_its_error() -> None:
    tasks = Supervisor()

    async def crashes() -> None:
        raise RuntimeError("lost the database")

    tasks.spawn(crashes(), name="relay")
    await asyncio.wait_for(tasks.failed.wait(), timeout=1)
    assert tasks.failure is not None
    assert "relay" in tasks.failure
    assert "lost the database" in tasks.failure
    await tasks.stop(grace=1)


async def test_a_one_shot_task_ending_is_not_fatal() -> None:
    tasks = Supervisor()
    done = asyncio.Event()

    async def once() -> None:
        done.set()

    async def fails_once() -> None:
        raise ValueError("ignored")

    tasks.spawn(once(), name="once", eternal=False)
    failing = tasks.spawn(fails_once(), name="fails-once", eternal=False)
    await done.wait()
    await asyncio.gather(failing, return_exceptions=True)
    assert not tasks.failed.is_set()
    await tasks.stop(grace=1)


async def test_stop_cancels_running_tasks_and_is_idempotent() -> None:
    tasks = Supervisor()
    cancelled = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    tasks.spawn(forever(), name="watcher")
    await asyncio.sleep(0)
    assert tasks.names == ["watcher"]
    await tasks.stop(grace=1)
    await tasks.stop(grace=1)
    assert cancelled.is_set()
    assert tasks.state is SupervisorState.STOPPED
    assert tasks.names == []
    assert not tasks.failed.is_set()


async def test_stop_before_any_task_is_fine() -> None:
    tasks = Supervisor()
    await tasks.stop(grace=1)
    assert tasks.state is SupervisorState.STOPPED


async def test_spawn_after_stop_is_refused() -> None:
    tasks = Supervisor()
    await tasks.stop(grace=1)

    async def late() -> None:
        return None

    with pytest.raises(RuntimeError, match="supervisor is stopped"):
        tasks.spawn(late(), name="late")


async def test_an_eternal_task_ending_after_quiesce_is_not_a_failure() -> None:
    tasks = Supervisor()
    finish = asyncio.Event()

    async def worker() -> None:
        await finish.wait()

    task = tasks.spawn(worker(), name="relay")
    tasks.quiesce()
    assert tasks.state is SupervisorState.STOPPING
    finish.set()
    await task
    await asyncio.sleep(0)
    assert not tasks.failed.is_set()
    await tasks.stop(grace=1)
    assert tasks.state is SupervisorState.STOPPED
