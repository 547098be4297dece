"""Release summaries (docs/api.md §3.3), worded as upstream words them."""

import uuid

from deis_controller.domain.config import ConfigData
from deis_controller.domain.summaries import BuildFacts, release_summary

EMPTY = ConfigData()


def build(*, owner: str = "autotest", sha: str = "", image: str = "autotest/example") -> BuildFacts:
    return BuildFacts(owner=owner, sha=sha, image=image, uuid=uuid.uuid4())


def summary(
    *,
    old: ConfigData = EMPTY,
    new: ConfigData = EMPTY,
    old_build: BuildFacts | None = None,
    new_build: BuildFacts | None = None,
) -> str | None:
    return release_summary(
        user="autotest",
        old_build=old_build,
        new_build=new_build,
        old=old,
        new=new,
        config_owner="autotest",
    )


def test_a_new_image_build() -> None:
    assert summary(new_build=build()) == "autotest deployed autotest/example"


def test_a_new_git_build_names_the_short_sha() -> None:
    assert summary(new_build=build(sha="abc1234def5678")) == "autotest deployed abc1234"


def test_the_build_owner_is_named_not_the_config_owner() -> None:
    assert (
        summary(old_build=build(), new_build=build(owner="bob")) == "bob deployed autotest/example"
    )


def test_the_same_build_is_no_change() -> None:
    same = build()

    assert summary(old_build=same, new_build=same) is None


def test_nothing_changed_is_none() -> None:
    config = ConfigData(values={"A": "1"}, tags={"t": "v"})

    assert summary(old=config, new=ConfigData(values={"A": "1"}, tags={"t": "v"})) is None


def test_an_added_env_var() -> None:
    assert summary(new=ConfigData(values={"NEW_URL": "x"})) == "autotest added NEW_URL"


def test_env_changes_are_grouped_and_sorted() -> None:
    old = ConfigData(values={"KEEP": "1", "CHANGE": "1", "GONE": "1", "ALSO_GONE": "1"})
    new = ConfigData(values={"KEEP": "1", "CHANGE": "2", "ZED": "1", "ADDED": "1"})

    assert summary(old=old, new=new) == (
        "autotest added ADDED, ZED, changed CHANGE, deleted ALSO_GONE, GONE"
    )


def test_build_and_env_parts_are_joined_with_and() -> None:
    result = summary(new_build=build(sha="abc1234"), new=ConfigData(values={"A": "1"}))

    assert result == "autotest deployed abc1234 and autotest added A"


def test_the_config_owner_names_config_parts() -> None:
    result = release_summary(
        user="admin",
        old_build=None,
        new_build=None,
        old=EMPTY,
        new=ConfigData(values={"A": "1"}),
        config_owner="admin",
    )

    assert result == "admin added A"


def test_limits_name_memory_then_cpu() -> None:
    new = ConfigData(memory={"web": "1G"}, cpu={"web": "500m"})

    assert summary(new=new) == "autotest changed limits for memory, cpu"


def test_the_limits_part_is_appended_without_and() -> None:
    new = ConfigData(values={"A": "1"}, cpu={"web": "1"})

    assert summary(new=new) == "autotest added Aautotest changed limits for cpu"


def test_tags() -> None:
    old = ConfigData(tags={"a": "1", "b": "1"})
    new = ConfigData(tags={"a": "2", "c": "1"})

    assert summary(old=old, new=new) == "autotest added tag c, changed tag a, deleted tag b"


def test_registry() -> None:
    new = ConfigData(registry={"username": "u", "password": "p"})

    assert summary(new=new) == "autotest added registry info password, username"


def test_healthcheck_names_proc_types_and_the_empty_one_as_default() -> None:
    probe = {"livenessProbe": {"tcpSocket": {"port": 1}}}
    old = ConfigData(healthcheck={"web/cmd": probe, "worker": probe})
    new = ConfigData(healthcheck={"web/cmd": {}, "": probe})

    assert summary(old=old, new=new) == (
        "autotest added healthcheck info for proc type default, "
        "changed healthcheck info for proc type web/cmd, "
        "deleted healthcheck info for proc type worker"
    )


def test_every_part_in_upstream_order() -> None:
    new = ConfigData(
        values={"A": "1"},
        memory={"web": "1G"},
        tags={"t": "v"},
        registry={"username": "u"},
        healthcheck={"web": {}},
    )

    assert summary(new_build=build(), new=new) == (
        "autotest deployed autotest/example and autotest added A"
        "autotest changed limits for memory and autotest added tag t"
        " and autotest added registry info username"
        " and autotest added healthcheck info for proc type web"
    )
