"""Procfile checks, build types, formations and scale bodies (docs/api.md §2.2, §2.4, §3.4)."""

from typing import Any

import pytest

from deis_controller import errors
from deis_controller.domain import procfiles
from deis_controller.domain.procfiles import BuildShape

TYPE_MESSAGE = "Process types can only contain lowercase alphanumeric characters"

# --- validate_procfile ----------------------------------------------------------------------


def test_a_valid_procfile_is_returned() -> None:
    procfile = {"web": "node server.js", "worker-test1": "node worker.js"}

    assert procfiles.validate_procfile(procfile) == procfile


def test_a_procfile_may_be_a_json_string() -> None:
    assert procfiles.validate_procfile('{"web": "run"}') == {"web": "run"}


@pytest.mark.parametrize("procfile", [None, {}])
def test_no_procfile_is_empty(procfile: Any) -> None:
    assert procfiles.validate_procfile(procfile) == {}


@pytest.mark.parametrize("proc_type", ["worker_test", "Worker-test1", "-", "worker-", "-worker"])
def test_rejected_process_types(proc_type: str) -> None:
    with pytest.raises(errors.FieldErrors) as caught:
        procfiles.validate_procfile({proc_type: "run"})

    assert caught.value.fields == {"procfile": [TYPE_MESSAGE]}


@pytest.mark.parametrize("command", [None, ""])
def test_empty_commands_are_rejected(command: Any) -> None:
    with pytest.raises(errors.FieldErrors) as caught:
        procfiles.validate_procfile({"web": command})

    assert caught.value.fields == {"procfile": ["Command can't be empty for process type"]}


@pytest.mark.parametrize(
    ("procfile", "message"),
    [
        ("nope", "Value must be valid JSON."),
        (["web"], 'Expected a dictionary of items but got type "list".'),
        ({"web": 5}, "Command must be a string for process type"),
    ],
)
def test_malformed_procfiles_are_field_errors(procfile: Any, message: str) -> None:
    with pytest.raises(errors.FieldErrors) as caught:
        procfiles.validate_procfile(procfile)

    assert caught.value.fields == {"procfile": [message]}


# --- build_type -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sha", "dockerfile", "expected"),
    [
        ("abc", "FROM x", "dockerfile"),
        ("", "true", "dockerfile"),
        ("abc", "", "buildpack"),
        ("", "", "image"),
    ],
)
def test_build_type(sha: str, dockerfile: str, expected: str) -> None:
    assert procfiles.build_type(sha=sha, dockerfile=dockerfile) == expected


# --- next_structure -------------------------------------------------------------------------


def shape(
    procfile: dict[str, str] | None = None, sha: str = "", dockerfile: str = ""
) -> BuildShape:
    return BuildShape(procfile=procfile or {}, sha=sha, dockerfile=dockerfile)


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (shape({"web": "a", "worker": "b"}, sha="abc"), {"web": 1}),
        (shape({"web": "a"}), {"web": 1}),
        (shape({"worker": "b"}), {"cmd": 1}),
        (shape(), {"cmd": 1}),
        (shape(sha="abc", dockerfile="true"), {"cmd": 1}),
        (shape({"worker": "b"}, sha="abc"), {}),
        (shape(sha="abc"), {"web": 1}),
    ],
)
def test_first_deploy_gets_the_default_formation(
    build: BuildShape, expected: dict[str, int]
) -> None:
    assert (
        procfiles.next_structure(structure={}, old=None, new=build, procfile_missing_remove=True)
        == expected
    )


def test_a_later_build_of_the_same_type_keeps_the_structure() -> None:
    old = shape({"web": "a", "worker": "b"}, sha="abc")
    new = shape({"web": "a2", "worker": "b2"}, sha="def")

    result = procfiles.next_structure(
        structure={"web": 0, "worker": 3}, old=old, new=new, procfile_missing_remove=True
    )

    assert result == {"web": 0, "worker": 3}


def test_a_build_type_change_zeroes_web_and_cmd_then_merges_the_default() -> None:
    old = shape(sha="abc")
    new = shape()

    result = procfiles.next_structure(
        structure={"web": 2, "worker": 1}, old=old, new=new, procfile_missing_remove=True
    )

    assert result == {"web": 0, "worker": 1, "cmd": 1}


def test_types_missing_from_the_new_procfile_are_scaled_to_zero() -> None:
    old = shape({"web": "a", "worker": "b", "clock": "c"}, sha="abc")
    new = shape({"web": "a"}, sha="def")

    result = procfiles.next_structure(
        structure={"web": 1, "worker": 2}, old=old, new=new, procfile_missing_remove=False
    )

    assert result == {"web": 1, "worker": 0, "clock": 0}


def test_a_missing_procfile_removes_types_only_when_the_setting_is_on() -> None:
    old = shape({"web": "a", "worker": "b"}, sha="abc")
    new = shape(sha="def")

    kept = procfiles.next_structure(
        structure={"web": 1, "worker": 2}, old=old, new=new, procfile_missing_remove=False
    )
    removed = procfiles.next_structure(
        structure={"web": 1, "worker": 2}, old=old, new=new, procfile_missing_remove=True
    )

    assert kept == {"web": 1, "worker": 2}
    assert removed == {"web": 0, "worker": 0}


def test_removed_types_do_not_block_the_first_formation() -> None:
    old = shape({"worker": "b"}, sha="abc")
    new = shape({"web": "a"}, sha="def")

    result = procfiles.next_structure(structure={}, old=old, new=new, procfile_missing_remove=True)

    assert result == {"worker": 0, "web": 1}


def test_next_structure_does_not_change_its_input() -> None:
    structure = {"web": 1}

    procfiles.next_structure(
        structure=structure,
        old=shape({"web": "a"}, sha="a"),
        new=shape(),
        procfile_missing_remove=True,
    )

    assert structure == {"web": 1}


# --- parse_scale ----------------------------------------------------------------------------


def test_counts_may_be_numbers_or_numeric_strings() -> None:
    assert procfiles.parse_scale({"web": 3, "worker": "2", "cmd": "0"}) == {
        "web": 3,
        "worker": 2,
        "cmd": 0,
    }


def test_a_non_integer_count_is_a_bad_request() -> None:
    with pytest.raises(errors.BadRequest) as caught:
        procfiles.parse_scale({"web": "x"})

    assert (
        str(caught.value) == "Invalid scaling format: invalid literal for int() with base 10: 'x'"
    )


def test_a_null_count_is_a_bad_request() -> None:
    with pytest.raises(errors.BadRequest) as caught:
        procfiles.parse_scale({"web": None})

    assert str(caught.value).startswith("Invalid scaling format: int() argument must be")


def test_a_negative_count_is_a_bad_request() -> None:
    with pytest.raises(errors.BadRequest) as caught:
        procfiles.parse_scale({"web": 1, "worker": "-1"})

    assert str(caught.value) == "Invalid scaling format: ['Must be greater than or equal to zero']"


@pytest.mark.parametrize("proc_type", ["Web", "web_1", "-", ""])
def test_bad_type_names_are_a_bad_request(proc_type: str) -> None:
    with pytest.raises(errors.BadRequest) as caught:
        procfiles.parse_scale({proc_type: 1})

    assert str(caught.value) == f"Invalid scaling format: {TYPE_MESSAGE}"
