"""The CLI's own argument checks."""

import pytest

from deis_cli import errors, parsing
from deis_cli.commands import ps


def test_scale_targets():
    assert parsing.scale_targets(["web=3", "worker-2=0"]) == {"web": 3, "worker-2": 0}
    for bad in ["web", "Web=1", "web=-1", "web=x", "-web=1", "web-=1", "=1"]:
        with pytest.raises(errors.InvalidInput, match="type=num"):
            parsing.scale_targets([bad])


def test_config_pairs_keep_equals_and_newlines():
    assert parsing.config_pairs(["A=b=c", "_x1=", "MULTI=a\nb"]) == {
        "A": "b=c",
        "_x1": "",
        "MULTI": "a\nb",
    }
    for bad in ["A", "1A=x", "A-B=x", "=x"]:
        with pytest.raises(errors.InvalidInput, match="key=var"):
            parsing.config_pairs([bad])


def test_limits():
    assert parsing.limits(["web=512M", "w-2=1G/2G", "0/100MB", "x=20gb"], cpu=False) == {
        "web": "512M",
        "w-2": "1G/2G",
        "cmd": "0/100MB",
        "x": "20gb",
    }
    assert parsing.limits(["web=500m", "w=0.5/1", "x=.5"], cpu=True) == {
        "web": "500m",
        "w": "0.5/1",
        "x": ".5",
    }
    for bad in ["web=10", "web=20MK", "Web=1G", "web=mb"]:
        with pytest.raises(errors.InvalidInput):
            parsing.limits([bad], cpu=False)
    for bad in ["web=1G", "web=m", "web=."]:
        with pytest.raises(errors.InvalidInput):
            parsing.limits([bad], cpu=True)


def test_ssh_key_is_base64_encoded(tmp_path):
    key = tmp_path / "id"
    key.write_text("-----BEGIN KEY-----\nabc\n")
    encoded = parsing.ssh_key_value(str(key))
    assert encoded == "LS0tLS1CRUdJTiBLRVktLS0tLQphYmMK"
    assert parsing.ssh_key_value(encoded) == encoded


def test_versions():
    assert parsing.version("v3") == 3
    assert parsing.version("12") == 12
    with pytest.raises(errors.InvalidInput):
        parsing.version("v")


def test_restart_paths():
    assert ps.restart_path("app", None) == "/v2/apps/app/pods/restart/"
    assert ps.restart_path("app", "web") == "/v2/apps/app/pods/web/restart/"
    assert ps.restart_path("app", "worker-x") == "/v2/apps/app/pods/worker-x/restart/"
    assert ps.restart_path("app", "app-web-1269180282-1nyfz") == (
        "/v2/apps/app/pods/web/app-web-1269180282-1nyfz/restart/"
    )
    assert ps.restart_path("app", "web-1269180282-1nyfz") == (
        "/v2/apps/app/pods/web/web-1269180282-1nyfz/restart/"
    )
    assert ps.restart_path("app", "app-my-worker-12345678-abcde") == (
        "/v2/apps/app/pods/my-worker/app-my-worker-12345678-abcde/restart/"
    )
