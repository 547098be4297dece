"""Label and field selectors, without a server."""

import pytest

from deis_testing.kube import errors, selectors

LABELS = {"app": "web", "tier": "front", "example.com/role": "x"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app=db", False),
        ("app!=db", True),
        ("missing!=x", True),
        ("app in (web,db)", True),
        ("app in (db)", False),
        ("app notin (db, cache)", True),
        ("missing notin (x)", True),
        ("tier", True),
        ("missing", False),
        ("!missing", True),
        ("!tier", False),
        ("example.com/role=x", True),
        (" app = web , tier in ( front ) ", True),
        ("app=web,tier=back", False),
    ],
)
def test_label_selectors(selector: str, matches: bool) -> None:
    assert selectors.parse_labels(selector)(LABELS) is matches


@pytest.mark.parametrize("selector", ["app=a=b", "(app)", "app in web", "app in (a"])
def test_malformed_label_selectors_are_400(selector: str) -> None:
    with pytest.raises(errors.ApiError) as caught:
        selectors.parse_labels(selector)
    assert caught.value.code == 400


def test_selector_objects() -> None:
    selector = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["front", "back"]},
            {"key": "gone", "operator": "DoesNotExist"},
        ],
    }
    assert selectors.to_string(selector) == "app=web,tier in (back,front),!gone"
    assert selectors.from_object(selector)(LABELS)
    assert selectors.from_object({})(LABELS)
    assert not selectors.from_object(None)(LABELS)


def test_field_selectors() -> None:
    obj = {"metadata": {"name": "p", "namespace": "n"}, "status": {"phase": "Running"}}
    assert selectors.parse_fields("metadata.name=p,metadata.namespace==n")(obj)
    assert selectors.parse_fields("status.phase!=Pending")(obj)
    assert not selectors.parse_fields("spec.nodeName=x")(obj)
    assert selectors.parse_fields("spec.nodeName=")(obj)
    with pytest.raises(errors.ApiError):
        selectors.parse_fields("metadata.name~p")
