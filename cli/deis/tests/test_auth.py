"""Accounts through the CLI against a real controller: register, login, whoami, keys, ..."""

import json
import stat
import subprocess

from deis_testing import free_port, unique_name

PASSWORD = "s3cret-pw"


def test_first_registered_user_is_admin_and_is_logged_in(controller, make_deis):
    deis = make_deis()
    name = unique_name("first")
    out = deis.ok(
        "register",
        controller.url,
        "--username",
        name,
        "--password",
        PASSWORD,
        "--email",
        "a@x.test",
    )
    assert f"Registered {name}" in out
    assert f"Logged in as {name}" in out
    saved = json.loads(deis.profile.read_text())
    assert set(saved) == {"username", "ssl_verify", "controller", "token", "response_limit"}
    assert saved["username"] == name and saved["controller"] == controller.url
    assert stat.S_IMODE(deis.profile.stat().st_mode) == 0o600
    assert saved["token"] not in out  # the token is never printed
    me = json.loads(deis.ok("whoami", "--all", "--json"))
    assert me["username"] == name and me["is_superuser"] is True
    assert f"You are {name} at {controller.url}" in deis.ok("whoami")

    # A second user registers with prompts and is not an admin.
    other = make_deis()
    second = unique_name("second")
    out = other.ok("register", controller.url, input=f"{second}\n{PASSWORD}\n{PASSWORD}\n\n")
    assert f"Registered {second}" in out
    assert json.loads(other.ok("whoami", "--all", "--json"))["is_superuser"] is False

    # Only the admin lists users.
    listed = deis.ok("users:list")
    assert name in listed and second in listed
    assert other.fails("users:list").startswith("deis: 403 Forbidden: ")


def test_login_logout_and_profiles(controller, make_deis, admin_name):
    deis = make_deis()
    assert deis.fails("apps:list") == (
        "deis: Not logged in. Use 'deis login' or 'deis register' to get started."
    )
    wrong = deis.fails("login", controller.url, "--username", admin_name, "--password", "nope")
    assert wrong == "deis: 400 Bad Request: Unable to log in with provided credentials."
    deis.ok(
        "login",
        controller.url.removeprefix("http://"),
        "--username",
        admin_name,
        "--password",
        PASSWORD,
    )
    assert deis.ok("whoami").strip() == f"You are {admin_name} at {controller.url}"
    assert "Logged out" in deis.ok("logout")
    assert not deis.profile.exists()
    # $DEIS_PROFILE selects another file, and -c another still.
    deis.env["DEIS_PROFILE"] = "work"
    deis.ok("login", controller.url, "--username", admin_name, "--password", PASSWORD)
    assert (deis.home / ".deis" / "work.json").exists() and not deis.profile.exists()
    assert admin_name in deis.ok("whoami")
    assert deis(*["-c", "client", "whoami"]).code != 0
    custom = deis.home / "elsewhere" / "p.json"
    deis.ok(
        "-c", str(custom), "login", controller.url, "--username", admin_name, "--password", PASSWORD
    )
    assert stat.S_IMODE(custom.stat().st_mode) == 0o600


def test_login_refuses_what_is_not_a_controller(controller, make_deis):
    deis = make_deis()
    refused = deis.fails(
        "login", f"http://127.0.0.1:{free_port()}", "--username", "a", "--password", "b"
    )
    assert refused.startswith("deis: cannot reach the controller at http://127.0.0.1:")
    assert refused.endswith("connection refused")
    # /healthz is no API root: a URL that answers but not with 401 at /v2/ is refused.
    not_deis = deis.fails(
        "login", f"{controller.url}/healthz", "--username", "a", "--password", "b"
    )
    assert "does not appear to be a valid Deis controller" in not_deis


def test_passwd_regenerate_and_cancel(controller, user, make_deis):
    dev = user()
    dev.ok("auth:passwd", "--password", PASSWORD, "--new-password", "n3w-pw")
    assert "401 Unauthorized" in dev.fails(
        "auth:passwd", "--password", "wrong", "--new-password", "x"
    )
    other = make_deis()
    other.ok("login", controller.url, "--username", dev.username, "--password", "n3w-pw")

    old = json.loads(dev.profile.read_text())["token"]
    out = dev.ok("auth:regenerate")
    new = json.loads(dev.profile.read_text())["token"]
    assert new != old and new not in out
    dev.ok("apps:list")  # the saved token works
    assert other.fails("apps:list").startswith("deis: 401 Unauthorized")

    # Cancel asks first: a wrong answer (or none) keeps the account.
    refused = dev("auth:cancel", input="nope\n")
    assert refused.code != 0 and "not cancelled" in refused.err
    assert dev("auth:cancel", input="").code != 0
    assert "Account cancelled" in dev.ok("auth:cancel", input=f"{dev.username}\n")
    assert not dev.profile.exists()
    assert (
        controller.http.post(
            "/v2/auth/login/", json={"username": dev.username, "password": "n3w-pw"}
        ).status_code
        == 400
    )


def test_keys_add_list_remove(user, tmp_path):
    dev = user()
    assert "no public key found" in dev.fails("keys:add")
    ssh = dev.home / ".ssh"
    ssh.mkdir()
    subprocess.run(
        [
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "laptop",
            "-f",
            str(ssh / "id_ed25519"),
        ],
        check=True,
    )
    assert "Added key laptop" in dev.ok("keys:add")  # ~/.ssh/id_ed25519.pub by default
    other = tmp_path / "deploy.pub"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(tmp_path / "deploy")],
        check=True,
    )
    dev.ok("keys:add", str(other))  # no comment: named after the file
    listed = json.loads(dev.ok("keys:list", "--json"))
    assert sorted(key["id"] for key in listed["results"]) == ["deploy", "laptop"]
    assert "laptop" in dev.ok("keys:list")
    dup = dev.fails("keys:add", str(ssh / "id_ed25519.pub"), "--name", "again")
    assert dup == "deis: 400 Bad Request: public: Public Key is already in use"
    dev.ok("keys:remove", "laptop")
    assert "404 Not Found" in dev.fails("keys:remove", "laptop")
    listed = json.loads(dev.ok("keys:list", "--json"))
    assert [key["id"] for key in listed["results"]] == ["deploy"]
    assert "does not hold an SSH public key" in dev.fails("keys:add", str(tmp_path / "deploy"))
