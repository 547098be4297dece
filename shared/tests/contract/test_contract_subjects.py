"""Subject and key builders: exact names, and no hostile app name ever reaches a subject."""

import importlib
import inspect
import pkgutil
from collections.abc import Callable

import pytest

from deis_shared import appnames
from deis_shared.events import build, deploy, logs, release, router
from deis_shared.kv import desired, endpoints, procs, routes
from deis_shared.rpc import controller, logger, scheduler

PACKAGES = ("deis_shared.events", "deis_shared.kv", "deis_shared.rpc")
HOSTILE = [
    *["", "my.app", "*", ">", "a.>", "my app", "myapp\n", "myapp\x00", "MyApp", "../x"],
    *["a" * 64, "\uff41pp", "app-", "1app"],
]


def _app_builders() -> dict[str, Callable[[str], str]]:
    """Every public function of the contract packages that takes an `app`."""
    found: dict[str, Callable[[str], str]] = {}
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
            module = importlib.import_module(info.name)
            for name, value in vars(module).items():
                if (
                    inspect.isfunction(value)
                    and value.__module__ == module.__name__
                    and not name.startswith("_")
                    and "app" in inspect.signature(value).parameters
                ):
                    found[f"{info.name}.{name}"] = value
    return found


BUILDERS = _app_builders()


def test_builders_are_discovered() -> None:
    assert "deis_shared.events.build.completed_subject" in BUILDERS
    assert "deis_shared.kv.procs.key" in BUILDERS
    assert len(BUILDERS) >= 12


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("app", HOSTILE)
def test_every_builder_refuses_hostile_app_names(name: str, app: str) -> None:
    with pytest.raises(appnames.InvalidAppName):
        BUILDERS[name](app)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_builder_puts_the_app_in_one_token(name: str) -> None:
    result = BUILDERS[name]("my-app")
    assert "my-app" in result.split(".")


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (build.completed_subject("myapp"), "deis.events.build.myapp.completed"),
        (build.failed_subject("myapp"), "deis.events.build.myapp.failed"),
        (release.created_subject("myapp"), "deis.events.release.myapp.created"),
        (deploy.started_subject("myapp"), "deis.events.deploy.myapp.started"),
        (deploy.succeeded_subject("myapp"), "deis.events.deploy.myapp.succeeded"),
        (deploy.failed_subject("myapp"), "deis.events.deploy.myapp.failed"),
        (deploy.app_subjects("myapp"), "deis.events.deploy.myapp.*"),
        (logs.subject("myapp"), "deis.logs.myapp"),
        (desired.key("myapp"), "myapp"),
        (routes.key("myapp"), "myapp"),
        (endpoints.key("myapp"), "myapp"),
        (procs.key("myapp"), "myapp"),
    ],
)
def test_builders_give_design_names(built: str, expected: str) -> None:
    assert built == expected


def test_constants_match_design() -> None:
    assert build.ALL_SUBJECTS == "deis.events.build.>"
    assert build.COMPLETED_SUBJECTS == "deis.events.build.*.completed"
    assert build.FAILED_SUBJECTS == "deis.events.build.*.failed"
    assert release.CREATED_SUBJECTS == "deis.events.release.*.created"
    assert deploy.ALL_SUBJECTS == "deis.events.deploy.>"
    assert router.APPLIED_SUBJECT == "deis.events.router.applied"
    assert router.REJECTED_SUBJECT == "deis.events.router.rejected"
    assert (logs.STREAM, logs.SUBJECTS) == ("LOGS", "deis.logs.>")
    assert [m.BUCKET for m in (desired, routes, endpoints, procs)] == [
        "desired",
        "routes",
        "endpoints",
        "procs",
    ]
    assert controller.KEY_SUBJECT == "deis.rpc.controller.key"
    assert controller.AUTHORIZE_SUBJECT == "deis.rpc.controller.authorize"
    assert scheduler.RUN_SUBJECT == "deis.rpc.scheduler.run"
    assert logger.TAIL_SUBJECT == "deis.rpc.logger.tail"


def test_events_stream_covers_every_event_family() -> None:
    events = importlib.import_module("deis_shared.events")
    assert (events.STREAM, events.SUBJECTS) == ("EVENTS", "deis.events.>")
    for family in (
        build.ALL_SUBJECTS,
        release.ALL_SUBJECTS,
        deploy.ALL_SUBJECTS,
        router.ALL_SUBJECTS,
    ):
        assert family.startswith("deis.events.")
