"""The profile file: location, format, permissions; and error message flattening."""

import json
import stat
from pathlib import Path

import httpx
import pytest

from deis_cli import client, errors, profile, rendering, settings


def env(home, name=None):
    return settings.Environment(
        home=home, profile=name, builder_url=None, router_url=None, display=False
    )


def test_profile_locations(tmp_path):
    assert profile.path_for(env(tmp_path)) == tmp_path / ".deis" / "client.json"
    assert profile.path_for(env(tmp_path, "work")) == tmp_path / ".deis" / "work.json"
    assert profile.path_for(env(tmp_path, "work"), "other") == tmp_path / ".deis" / "other.json"
    assert profile.path_for(env(tmp_path, "/x/y.json")) == Path("/x/y.json")
    assert profile.path_for(env(tmp_path), str(tmp_path / "p")) == tmp_path / "p.json"


def test_profile_round_trip_and_mode(tmp_path):
    path = tmp_path / ".deis" / "client.json"
    assert profile.load(path) == profile.Profile()
    saved = profile.Profile(controller="http://c", token="t", username="u", ssl_verify=False)
    profile.save(path, saved)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {
        "controller": "http://c",
        "token": "t",
        "username": "u",
        "ssl_verify": False,
        "response_limit": 0,
    }
    assert profile.load(path) == saved
    assert saved.limit == 100
    path.write_text("[]")
    with pytest.raises(errors.CliError, match="JSON object"):
        profile.load(path)
    assert profile.delete(path) and not profile.delete(path)
    with pytest.raises(errors.NotLoggedIn):
        profile.Profile().require_login()


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (404, '"No App matches the given query."', "No App matches the given query."),
        (400, '{"detail": "version cannot be below 0"}', "version cannot be below 0"),
        (400, '{"id": ["a", "b"], "key": ["c"]}', "id: a; b; key: c"),
        (400, '{"non_field_errors": ["Unable to log in."]}', "Unable to log in."),
        (400, '["The address x is not valid"]', "The address x is not valid"),
        (500, "Error accessing logs for a", "Error accessing logs for a"),
        (404, "<html><body>Not Found</body></html>", "no such resource"),
        (502, "", ""),
    ],
)
def test_error_messages(status, body, expected):
    response = httpx.Response(status, text=body)
    assert client.describe(response) == expected


def test_api_error_line():
    assert errors.ApiError(404, "x").message == "404 Not Found: x"
    assert errors.ApiError(599, "").message == "599 Error"


def test_table():
    assert rendering.table([("a", "bb", "c"), ("ccc", "d", "e")]) == "a    bb  c\nccc  d   e"
    assert rendering.table([], headers=["A", "B"]) == "A  B"
    assert rendering.table([]) == ""
