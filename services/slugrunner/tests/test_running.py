from collections.abc import Callable

import pytest

from deis_shared.objectstore import errors as store_errors
from deis_shared.objectstore.s3 import S3Store
from deis_slugrunner import running, slugs
from deis_slugrunner.settings import RunnerSettings
from deis_testing import free_port

MakeSlug = Callable[..., bytes]
SettingsFor = Callable[..., RunnerSettings]
KEY = "slugs/hello/abc1234.tar.gz"
METADATA = {
    "schema": 1,
    "buildpack": "python",
    "process_types": {"web": "python app.py", "worker": "python worker.py"},
    "env": {"PYTHONPATH": "$HOME/.deis/python", "PATH": "$HOME/.deis/python/bin:$PATH"},
}
POD = {"PATH": "/usr/bin:/bin", "PORT": "5000", "DEIS_S3_SECRET_ACCESS_KEY": "x", "A": "b"}


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


async def test_prepare_unpacks_the_slug_and_describes_the_process(
    store: S3Store, make_slug: MakeSlug, settings_for: SettingsFor
) -> None:
    await store.put_bytes(key=KEY, data=make_slug({"app.py": "print(1)"}, metadata=METADATA))
    settings = settings_for()
    (settings.app_dir / "stale").mkdir(parents=True)

    launch = await running.prepare(settings, process_type="web", environ=POD, sleep=Sleeps())

    assert launch.argv == ["/bin/sh", "-c", "python app.py"]
    assert launch.cwd == settings.app_dir
    app = str(settings.app_dir)
    assert launch.env == {
        "PATH": f"{app}/.deis/python/bin:/usr/bin:/bin",
        "PYTHONPATH": f"{app}/.deis/python",
        "HOME": app,
        "PORT": "5000",
        "A": "b",
    }
    assert sorted(p.name for p in settings.app_dir.iterdir()) == [".deis", "app.py"]
    assert list(settings.scratch_dir.iterdir()) == []


async def test_without_a_command_the_slug_names_the_types(
    store: S3Store, make_slug: MakeSlug, settings_for: SettingsFor
) -> None:
    await store.put_bytes(key=KEY, data=make_slug({}, metadata=METADATA))
    launch = await running.prepare(
        settings_for(command=""), process_type="worker", environ=POD, sleep=Sleeps()
    )
    assert launch.argv[-1] == "python worker.py"
    with pytest.raises(running.NoCommand, match="'clock'"):
        await running.prepare(
            settings_for(command=""), process_type="clock", environ=POD, sleep=Sleeps()
        )


async def test_a_missing_slug_is_not_retried(store: S3Store, settings_for: SettingsFor) -> None:
    sleeps = Sleeps()
    with pytest.raises(slugs.SlugError, match="no slug at"):
        await running.prepare(settings_for(), process_type="web", environ=POD, sleep=sleeps)
    assert sleeps.delays == []


async def test_no_slug_key_is_refused(settings_for: SettingsFor) -> None:
    with pytest.raises(slugs.SlugError, match="DEIS_SLUG_KEY"):
        await running.prepare(
            settings_for(slug_key=""), process_type="web", environ=POD, sleep=Sleeps()
        )


@pytest.mark.timeout(30)
async def test_an_unreachable_store_is_retried_then_given_up(settings_for: SettingsFor) -> None:
    sleeps = Sleeps()
    settings = settings_for(s3_endpoint_url=f"http://127.0.0.1:{free_port()}", fetch_attempts=3)
    with pytest.raises(store_errors.ObjectStoreUnavailable):
        await running.prepare(settings, process_type="web", environ=POD, sleep=sleeps)
    assert sleeps.delays == [1.0, 2.0]
