"""Domains, certificates, collaborators and app settings through the CLI."""

import json
import subprocess

import pytest

from deis_testing import unique_name


@pytest.fixture
def app(admin, app_name):
    admin.ok("create", app_name, "--no-remote")
    return app_name


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for `*.cli.test` and its key, as PEM files."""
    folder = tmp_path_factory.mktemp("cert")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=www.cli.test",
            "-addext",
            "subjectAltName=DNS:www.cli.test",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_domains(admin, app):
    domain = f"{app}.cli.test"
    admin.ok("domains:add", domain, "-a", app)
    assert domain in admin.ok("domains", "-a", app).splitlines()
    listed = json.loads(admin.ok("domains:list", "--json", "-a", app))
    assert sorted(d["domain"] for d in listed["results"]) == sorted([app, domain])
    assert admin.fails("domains:add", domain, "-a", app) == (
        "deis: 400 Bad Request: domain: Domain is already in use by another application"
    )
    admin.ok("domains:remove", domain, "-a", app)
    assert domain not in admin.ok("domains", "-a", app)
    assert admin.fails("domains:remove", domain, "-a", app) == (
        "deis: 404 Not Found: No Domain matches the given query."
    )


def test_certs(admin, app, certificate, tmp_path):
    cert, key = certificate
    name = unique_name("cert-")
    admin.ok("domains:add", "www.cli.test", "-a", app)
    admin.ok("certs:add", name, str(cert), str(key))
    assert name in admin.ok("certs")
    info = json.loads(admin.ok("certs:info", name, "--json"))
    assert info["common_name"] == "www.cli.test" and info["domains"] == []
    admin.ok("certs:attach", name, "www.cli.test")
    assert json.loads(admin.ok("certs:info", name, "--json"))["domains"] == ["www.cli.test"]
    assert "www.cli.test" in admin.ok("certs:list")
    assert "409 Conflict" in admin.fails("certs:attach", name, "www.cli.test")
    admin.ok("certs:detach", name, "www.cli.test")
    assert json.loads(admin.ok("certs:info", name, "--json"))["domains"] == []
    admin.ok("certs:remove", name)
    assert admin.fails("certs:info", name) == (
        "deis: 404 Not Found: No Certificate matches the given query."
    )
    (tmp_path / "junk.pem").write_text("not a certificate")
    bad = admin.fails("certs:add", unique_name("cert-"), str(tmp_path / "junk.pem"), str(key))
    assert bad.startswith("deis: 400 Bad Request: certificate: Could not load certificate")
    assert "cannot read the certificate" in admin.fails(
        "certs:add", "x", str(tmp_path / "missing.pem"), str(key)
    )


def test_perms_and_a_second_user_denied(admin, user, app):
    owner = user()
    other = user()
    mine = unique_name("app-")
    owner.ok("create", mine, "--no-remote")
    assert other.fails("info", "-a", mine).startswith("deis: 403 Forbidden: ")
    owner.ok("perms:create", other.username, "-a", mine)
    assert other.username in owner.ok("perms", "-a", mine)
    assert json.loads(owner.ok("perms:list", "--json", "-a", mine)) == {"users": [other.username]}
    assert json.loads(other.ok("info", "--json", "-a", mine))["app"]["id"] == mine
    # A collaborator may not destroy, nor share further.
    denied = other.fails("destroy", "-a", mine, f"--confirm={mine}")
    assert denied == ("deis: 403 Forbidden: You do not have permission to perform this action.")
    assert other.fails("perms:create", admin.username, "-a", mine).startswith("deis: 403")
    owner.ok("perms:delete", other.username, "-a", mine)
    assert other.fails("info", "-a", mine).startswith("deis: 403 Forbidden: ")

    # Administrators.
    assert owner.fails("perms:list", "--admin").startswith("deis: 403")
    admin.ok("perms:create", owner.username, "--admin")
    admins = json.loads(admin.ok("perms:list", "--admin", "--json"))
    assert owner.username in [row["username"] for row in admins["results"]]
    assert owner.username in admin.ok("sharing", "--admin")
    admin.ok("perms:delete", owner.username, "--admin")
    assert owner.username not in admin.ok("perms:list", "--admin")


def test_maintenance_routing_whitelist_tls_labels(admin, app):
    assert admin.ok("maintenance:info", "-a", app).strip() == f"Maintenance is off for {app}"
    admin.ok("maintenance:on", "-a", app)
    assert "is on" in admin.ok("maintenance", "-a", app)
    assert "409 Conflict" in admin.fails("maintenance:on", "-a", app)
    admin.ok("maintenance:off", "-a", app)

    admin.ok("routing:disable", "-a", app)
    assert admin.ok("routing:info", "-a", app).strip() == f"Routable is disabled for {app}"
    admin.ok("routing:enable", "-a", app)
    assert json.loads(admin.ok("routing:info", "--json", "-a", app))["routable"] is True

    admin.ok("whitelist:add", "10.0.0.1,192.168.0.0/16", "-a", app)
    listed = json.loads(admin.ok("whitelist", "--json", "-a", app))
    assert sorted(listed["addresses"]) == ["10.0.0.1", "192.168.0.0/16"]
    admin.ok("whitelist:remove", "10.0.0.1", "-a", app)
    assert admin.ok("whitelist:list", "-a", app).splitlines()[1:] == ["192.168.0.0/16"]
    bad = admin.fails("whitelist:add", "not-an-ip", "-a", app)
    assert bad == "deis: 400 Bad Request: The address not-an-ip is not valid"
    assert admin.fails("whitelist:remove", "1.2.3.4", "-a", app).startswith(
        "deis: 422 Unprocessable Entity: "
    )

    assert "HTTPS is not enforced" in admin.ok("tls", "-a", app)
    admin.ok("tls:enable", "-a", app)
    assert json.loads(admin.ok("tls:info", "--json", "-a", app))["https_enforced"] is True
    admin.ok("tls:disable", "-a", app)
    assert "not enforced" in admin.ok("tls:info", "-a", app)

    admin.ok("labels:set", "team=web", "-a", app)
    assert json.loads(admin.ok("labels", "--json", "-a", app)) == {"team": "web"}
    assert "team" in admin.ok("info", "-a", app)
    admin.ok("labels:unset", "team", "-a", app)
    assert "No labels found." in admin.ok("labels:list", "-a", app)


def test_autoscale(admin, app):
    assert "No autoscale rules found." in admin.ok("autoscale", "-a", app)
    admin.ok("autoscale:set", "web", "--min", "1", "--max", "3", "--cpu-percent", "70", "-a", app)
    assert json.loads(admin.ok("autoscale:list", "--json", "-a", app)) == {
        "web": {"min": 1, "max": 3, "cpu_percent": 70}
    }
    admin.ok("autoscale:unset", "web", "-a", app)
    assert json.loads(admin.ok("autoscale:list", "--json", "-a", app)) == {}
    assert admin("autoscale:set", "web", "--min", "1", "-a", app).code == 2
