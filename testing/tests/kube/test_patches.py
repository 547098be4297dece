"""The patch formats, without a server."""

from typing import Any

import pytest

from deis_testing.kube import errors, patches

TARGET: dict[str, Any] = {
    "metadata": {"name": "x", "labels": {"a": "1"}},
    "items": [1, 2],
    "keep": True,
}


def test_merge_patch() -> None:
    patched = patches.apply(
        patches.MERGE, TARGET, {"metadata": {"labels": {"a": None, "b": "2"}}, "items": [3]}
    )
    assert patched == {"metadata": {"name": "x", "labels": {"b": "2"}}, "items": [3], "keep": True}
    assert TARGET["metadata"]["labels"] == {"a": "1"}  # the target is left alone


def test_strategic_merge_patch_is_a_merge_patch() -> None:
    body = {"items": [9], "metadata": {"labels": {"c": "3"}}}
    assert patches.apply(patches.STRATEGIC, TARGET, body) == patches.merge(TARGET, body)


def test_json_patch_operations() -> None:
    patched = patches.apply(
        patches.JSON_PATCH,
        TARGET,
        [
            {"op": "add", "path": "/items/-", "value": 3},
            {"op": "add", "path": "/items/0", "value": 0},
            {"op": "remove", "path": "/keep"},
            {"op": "replace", "path": "/metadata/labels/a", "value": "2"},
            {"op": "copy", "from": "/metadata/name", "path": "/metadata/labels/name"},
            {"op": "move", "from": "/metadata/labels/name", "path": "/moved"},
            {"op": "add", "path": "/metadata/annotations", "value": {"x~y/z": "1"}},
            {"op": "test", "path": "/metadata/annotations/x~0y~1z", "value": "1"},
        ],
    )
    assert patched == {
        "metadata": {"name": "x", "labels": {"a": "2"}, "annotations": {"x~y/z": "1"}},
        "items": [0, 1, 2, 3],
        "moved": "x",
    }


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "remove", "path": "/missing"},
        {"op": "replace", "path": "/items/5", "value": 1},
        {"op": "test", "path": "/keep", "value": False},
        {"op": "add", "path": "/missing/deeper", "value": 1},
    ],
)
def test_json_patch_failures(operation: dict[str, Any]) -> None:
    with pytest.raises(patches.PatchError):
        patches.apply(patches.JSON_PATCH, TARGET, [operation])


def test_wrong_shapes_and_types() -> None:
    with pytest.raises(errors.ApiError) as caught:
        patches.apply(patches.MERGE, TARGET, [1])
    assert caught.value.code == 400
    with pytest.raises(errors.ApiError) as caught:
        patches.apply("application/apply-patch+yaml", TARGET, {})
    assert caught.value.code == 415
