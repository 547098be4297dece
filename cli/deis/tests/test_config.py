"""Config, limits, tags, healthchecks and releases through the CLI: each change is a release."""

import json

import pytest


@pytest.fixture
def app(admin, app_name):
    admin.ok("create", app_name, "--no-remote")
    return app_name


def test_config_set_unset_list(admin, app):
    out = admin.ok("config:set", "FOO=bar", "URL=postgres://u:p@h/db?x=1", "EMPTY=", "-a", app)
    assert "=== " in out and "URL" in out
    config = json.loads(admin.ok("config:list", "--json", "-a", app))
    assert config["values"] == {"FOO": "bar", "URL": "postgres://u:p@h/db?x=1", "EMPTY": ""}
    assert admin.ok("config", "--oneline", "-a", app).strip() == (
        "EMPTY= FOO=bar URL=postgres://u:p@h/db?x=1"
    )
    admin.ok("config:unset", "FOO", "EMPTY", "-a", app)
    assert json.loads(admin.ok("config:list", "--json", "-a", app))["values"] == {
        "URL": "postgres://u:p@h/db?x=1"
    }
    missing = admin.fails("config:unset", "NOPE", "-a", app)
    assert missing == "deis: 422 Unprocessable Entity: NOPE does not exist under values"


def test_bad_config_pairs_send_nothing(admin, app):
    assert admin.fails("config:set", "NOEQUALS", "-a", app) == (
        "deis: 'NOEQUALS' does not match the pattern 'key=var', ex: MODE=test"
    )
    result = admin("config:set", "1BAD=x", "-a", app)
    assert result.code == 2 and "does not match the pattern" in result.err
    releases = json.loads(admin.ok("releases:list", "--json", "-a", app))
    assert releases["count"] == 1


def test_config_pull_and_push(admin, app, tmp_path):
    admin.ok("config:set", "A=1", "SPACED=two words", 'QUOTE=say "hi"', "-a", app)
    admin.ok("config:pull", "-a", app, cwd=tmp_path)
    env_file = tmp_path / ".env"
    text = env_file.read_text()
    assert "A=1\n" in text and 'SPACED="two words"' in text
    # Local values win unless --overwrite.
    env_file.write_text("A=local\n")
    admin.ok("config:pull", "-a", app, cwd=tmp_path)
    assert "A=local\n" in env_file.read_text() and "SPACED" in env_file.read_text()
    admin.ok("config:pull", "-a", app, "--overwrite", cwd=tmp_path)
    assert "A=1\n" in env_file.read_text()

    env_file.write_text(
        "# a comment\n"
        "\n"
        "export EXPORTED=yes\n"
        "SINGLE='lit $x \\n'\n"
        'DOUBLE="a\\nb"\n'
        "INLINE=value # comment\n"
        "WITH_EQ=a=b=c\n"
    )
    admin.ok("config:push", "-a", app, cwd=tmp_path)
    values = json.loads(admin.ok("config:list", "--json", "-a", app))["values"]
    assert values["EXPORTED"] == "yes"
    assert values["SINGLE"] == "lit $x \\n"
    assert values["DOUBLE"] == "a\nb"
    assert values["INLINE"] == "value"
    assert values["WITH_EQ"] == "a=b=c"
    assert values["SPACED"] == "two words" and values["QUOTE"] == 'say "hi"'

    # Pull then push again: the round trip changes nothing (the controller says so).
    admin.ok("config:pull", "-a", app, "--overwrite", cwd=tmp_path)
    same = admin.fails("config:push", "-a", app, cwd=tmp_path)
    assert same.startswith("deis: 409 Conflict: ") and "changed nothing" in same
    (tmp_path / "bad.env").write_text("not an assignment\n")
    assert "expected KEY=value" in admin.fails(
        "config:push", "-p", "bad.env", "-a", app, cwd=tmp_path
    )


def test_limits_tags_and_healthchecks(admin, app):
    admin.ok("limits:set", "web=512M", "worker=1G/2G", "-a", app)
    admin.ok("limits:set", "--cpu", "web=500m", "-a", app)
    limits = json.loads(admin.ok("limits:list", "--json", "-a", app))
    assert limits == {"memory": {"web": "512M", "worker": "1G/2G"}, "cpu": {"web": "500m"}}
    assert "--- Memory" in admin.ok("limits", "-a", app)
    admin.ok("limits:unset", "worker", "-a", app)
    admin.ok("limits:unset", "--cpu", "web", "-a", app)
    limits = json.loads(admin.ok("limits:list", "--json", "-a", app))
    assert limits == {"memory": {"web": "512M"}, "cpu": {}}
    assert admin.fails("limits:set", "web=lots", "-a", app) == (
        "deis: 'web=lots' does not match the pattern 'type=value', ex: web=512M"
    )
    assert "ex: web=500m" in admin.fails("limits:set", "--cpu", "web=1G", "-a", app)

    admin.ok("tags:set", "environ=prod", "rack=1", "-a", app)
    assert json.loads(admin.ok("tags:list", "--json", "-a", app)) == {
        "environ": "prod",
        "rack": "1",
    }
    admin.ok("tags:unset", "rack", "-a", app)
    assert "environ" in admin.ok("tags", "-a", app)
    assert json.loads(admin.ok("tags:list", "--json", "-a", app)) == {"environ": "prod"}

    admin.ok(
        "healthchecks:set",
        "liveness",
        "httpGet",
        "5000",
        "--path",
        "/health",
        "-H",
        "X-Check:yes",
        "-a",
        app,
    )
    admin.ok("healthchecks:set", "readiness", "exec", "-a", app, "--", "/bin/echo", "-n", "hi")
    admin.ok("healthchecks:set", "liveness", "tcpSocket", "5000", "--type", "worker", "-a", app)
    checks = json.loads(admin.ok("healthchecks:list", "--json", "-a", app))
    live = checks["web/cmd"]["livenessProbe"]
    assert live["httpGet"] == {
        "path": "/health",
        "port": 5000,
        "httpHeaders": [{"name": "X-Check", "value": "yes"}],
    }
    assert live["initialDelaySeconds"] == 50 and live["failureThreshold"] == 3
    assert checks["web/cmd"]["readinessProbe"]["exec"] == {"command": ["/bin/echo", "-n", "hi"]}
    assert checks["worker"]["livenessProbe"]["tcpSocket"] == {"port": 5000}
    assert "--- worker:" in admin.ok("healthchecks", "-a", app)
    admin.ok("healthchecks:unset", "liveness", "readiness", "-a", app)
    checks = json.loads(admin.ok("healthchecks:list", "--json", "-a", app))
    assert "livenessProbe" not in checks.get("web/cmd", {})
    assert "one port number" in admin.fails("healthchecks:set", "liveness", "httpGet", "-a", app)


def test_releases_and_rollback(admin, app):
    fresh = admin.fails("rollback", "-a", app)
    assert fresh == "deis: 400 Bad Request: version cannot be below 0"
    admin.ok("config:set", "A=1", "-a", app)
    admin.ok("config:set", "A=2", "-a", app)
    listed = admin.ok("releases", "-a", app)
    assert f"=== {app} Releases" in listed
    assert "v3" in listed and "added A" in listed
    info = json.loads(admin.ok("releases:info", "v2", "-a", app, "--json"))
    assert info["version"] == 2
    assert "v3" in admin.ok("releases:info", "-a", app)
    result = admin("rollback", "-a", app)
    assert result.code == 0, result
    assert "Rolling back" in result.err and "now at v4" in result.out
    assert json.loads(admin.ok("config:list", "--json", "-a", app))["values"] == {"A": "1"}
    assert json.loads(admin.ok("releases:rollback", "v3", "--json", "-a", app)) == {"version": 5}
    assert json.loads(admin.ok("config:list", "--json", "-a", app))["values"] == {"A": "2"}
    assert admin.fails("releases:info", "v99", "-a", app) == (
        "deis: 404 Not Found: No Release matches the given query."
    )
    assert admin.fails("rollback", "vx", "-a", app) == (
        "deis: 'vx' is not a release version, ex: v3"
    )
    unknown = admin.fails("releases", "-a", "no-such-app-here")
    assert unknown == "deis: 404 Not Found: No App matches the given query."
