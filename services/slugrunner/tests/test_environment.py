import os

from deis_slugrunner import environment

POD = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "GREETING": "hi",
    "PORT": "5000",
    "DEIS_APP": "hello",
    "WORKFLOW_RELEASE": "v3",
    "SOURCE_VERSION": "abc1234",
    "DEIS_SLUG_KEY": "slugs/hello/abc1234.tar.gz",
    "DEIS_COMMAND": "python app.py",
    "DEIS_OBJECT_STORE": "s3",
    "DEIS_S3_BUCKET": "deis",
    "DEIS_S3_SECRET_ACCESS_KEY": "s3cr3t",
}


def test_the_slug_env_expands_home_and_path() -> None:
    env = environment.process_env(
        inherited=POD,
        slug_env={"PYTHONPATH": "$HOME/.deis/python", "PATH": "$HOME/.deis/python/bin:$PATH"},
        home="/app",
    )
    assert env["PYTHONPATH"] == "/app/.deis/python"
    assert env["PATH"] == "/app/.deis/python/bin:/usr/local/bin:/usr/bin:/bin"
    assert env["HOME"] == "/app"
    assert env["GREETING"] == "hi"


def test_the_app_never_sees_the_runners_inputs() -> None:
    env = environment.process_env(inherited=POD, slug_env={}, home="/app")
    assert not [name for name in env if name.startswith(("DEIS_S3_", "DEIS_OBJECT_STORE"))]
    assert "DEIS_SLUG_KEY" not in env
    assert "DEIS_COMMAND" not in env
    assert env["DEIS_APP"] == "hello"


def test_what_deis_sets_wins_over_the_slug_and_home_over_config() -> None:
    env = environment.process_env(
        inherited={**POD, "HOME": "/root"},
        slug_env={"PORT": "1", "WORKFLOW_RELEASE": "v0", "HOME": "/elsewhere", "GREETING": "yo"},
        home="/app",
    )
    assert (env["PORT"], env["WORKFLOW_RELEASE"], env["HOME"]) == ("5000", "v3", "/app")
    assert env["GREETING"] == "yo"


def test_path_defaults_to_the_system_path_and_only_whole_names_expand() -> None:
    env = environment.process_env(
        inherited={},
        slug_env={"PATH": "$HOME/bin:$PATH", "OTHER": "$HOMEDIR $PATHS", "ODD": "$HOME"},
        home="C:\\x\\1",
    )
    assert env["PATH"] == f"C:\\x\\1/bin:{os.defpath}"
    assert env["OTHER"] == "$HOMEDIR $PATHS"
    assert env["ODD"] == "C:\\x\\1"
