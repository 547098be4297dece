"""Apps through the CLI: create with its git remote, list, info, open, transfer, destroy."""

import json

from deis_testing import unique_name


def test_create_adds_the_git_remote_and_commands_find_the_app_from_it(
    admin, app_name, repo, remote_of
):
    out = admin.ok("create", app_name, cwd=repo)
    assert f"Created {app_name}" in out
    assert f"Git remote deis successfully created for app {app_name}." in out
    url = remote_of(repo)
    # The controller is an IP literal: the builder is on that IP, Deis's port.
    assert url == f"ssh://git@127.0.0.1:2222/{app_name}.git"
    # Without -a, the app comes from the remote.
    info = json.loads(admin.ok("info", "--json", cwd=repo))
    assert info["app"]["id"] == app_name
    assert [d["domain"] for d in info["domains"]] == [app_name]
    # A second create in the same copy refuses to overwrite the remote, but the app exists.
    other = unique_name("app-")
    second = admin(*["apps:create", other], cwd=repo)
    assert second.code == 0 and "already exists" in second.err
    assert remote_of(repo).endswith(f"/{app_name}.git")
    admin.ok("git:remote", "-a", other, "--force", cwd=repo)
    assert remote_of(repo).endswith(f"/{other}.git")
    assert "Git remote deis removed" in admin.ok("git:remove", "-a", other, cwd=repo)
    assert remote_of(repo) is None
    admin.ok("git:remote", "-a", app_name, cwd=repo)
    assert app_name in admin.ok("apps:info", cwd=repo)


def test_builder_url_override_and_no_remote(admin, app_name, repo, remote_of):
    admin.env["DEIS_BUILDER_URL"] = "ssh://git@127.0.0.1:2223"
    out = admin("apps:create", app_name, "--no-remote", cwd=repo)
    assert f"ssh://git@127.0.0.1:2223/{app_name}.git" in out.err
    assert remote_of(repo) is None and remote_of(repo, "origin") is None
    admin.ok("git:remote", "-a", app_name, "--remote", "origin", cwd=repo)
    assert remote_of(repo, "origin") == (f"ssh://git@127.0.0.1:2223/{app_name}.git")
    # A remote to this builder under any name identifies the app.
    assert json.loads(admin.ok("info", "--json", cwd=repo))["app"]["id"] == app_name


def test_app_defaults_to_the_directory_name(admin, tmp_path):
    name = unique_name("dir-")
    folder = tmp_path / name.upper()
    folder.mkdir()
    admin.ok("create", name, "--no-remote")
    assert json.loads(admin.ok("info", "--json", cwd=folder))["app"]["id"] == name


def test_generated_name_list_info_and_open(admin, repo, remote_of):
    created = json.loads(admin.ok("create", "--json", "--no-remote", cwd=repo))
    name = created["id"]
    assert name in admin.ok("apps").splitlines()
    listed = json.loads(admin.ok("apps:list", "--json"))
    assert name in [app["id"] for app in listed["results"]]
    info = admin.ok("apps:info", "-a", name)
    assert f"=== {name} Application" in info
    assert f"http://{name}.localhost:8080" in info
    assert "No labels found." in info
    assert admin.ok("open", "-a", name).strip() == f"http://{name}.localhost:8080"
    admin.env["DEIS_ROUTER_URL"] = "http://localhost:9090"
    assert admin.ok("open", "-a", name).strip() == f"http://{name}.localhost:9090"
    admin.ok("domains:add", "www.example.test", "-a", name)
    admin.ok("domains:remove", name, "-a", name)
    assert admin.ok("open", "-a", name).strip() == "http://www.example.test"


def test_destroy_asks_for_confirmation(admin, app_name, repo, remote_of):
    admin.ok("create", app_name, cwd=repo)
    refused = admin("destroy", input="something-else\n", cwd=repo)
    assert refused.code != 0
    assert "does not match" in refused.err
    assert "Traceback" not in refused.err
    assert app_name in admin.ok("apps:list")
    # Typed at the prompt: destroyed, and the remote pointing at it removed.
    done = admin("destroy", input=f"{app_name}\n", cwd=repo)
    assert done.code == 0, done
    assert "Destroying" in done.err and "done" in done.err
    assert app_name not in admin.ok("apps:list")
    assert remote_of(repo) is None

    other = unique_name("app-")
    admin.ok("create", other, "--no-remote")
    assert admin("apps:destroy", "-a", other, "--confirm", "wrong").code != 0
    admin.ok("apps:destroy", "-a", other, f"--confirm={other}")
    assert admin.fails("info", "-a", other) == (
        "deis: 404 Not Found: No App matches the given query."
    )


def test_transfer_and_errors(admin, user, app_name):
    dev = user()
    dev.ok("create", app_name, "--no-remote")
    assert admin.fails("apps:transfer", "nobody-like-this", "-a", app_name).startswith(
        "deis: 404 Not Found"
    )
    dev.ok("apps:transfer", admin.username, "-a", app_name)
    assert json.loads(admin.ok("info", "--json", "-a", app_name))["app"]["owner"] == admin.username
    assert dev.fails("info", "-a", app_name).startswith("deis: 403 Forbidden: ")
    bad = admin.fails("create", "Bad_Name", "--no-remote")
    assert bad.startswith("deis: 400 Bad Request: id: ")
    dup = admin.fails("create", app_name, "--no-remote")
    assert dup == "deis: 400 Bad Request: id: Application with this id already exists."
