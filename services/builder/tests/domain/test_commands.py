"""The SSH command boundary against hostile input."""

import pytest

from deis_builder.domain import commands
from deis_builder.errors import Refused


@pytest.mark.parametrize(
    ("command", "action", "app"),
    [
        ("git-receive-pack '/myapp.git'", "receive-pack", "myapp"),
        ("git-receive-pack 'myapp.git'", "receive-pack", "myapp"),
        ("git-upload-pack '/myapp.git'", "upload-pack", "myapp"),
        ("git receive-pack '/my-app-2.git'", "receive-pack", "my-app-2"),
    ],
)
def test_accepts_git_push_and_clone_of_an_app(command, action, app):
    parsed = commands.parse_command(command)
    assert parsed == commands.GitCommand(action=action, app=app)
    assert parsed.program == f"git-{action}"


@pytest.mark.parametrize(
    "command",
    [
        None,
        "",
        "ls",
        "sh -c 'id'",
        "bash",
        "git-upload-pack '../../etc'",
        "git-upload-pack '/../../etc/passwd.git'",
        "git-receive-pack '/a/../b.git'",
        "git-receive-pack '/dir/myapp.git'",
        "git-receive-pack '/MyApp.git'",
        "git-receive-pack '/myapp'",
        "git-receive-pack '/-myapp.git'",
        "git-receive-pack '/myapp-.git'",
        "git-receive-pack '/.git'",
        "git-receive-pack '/my app.git'",
        "git-receive-pack '/myapp.git' extra",
        "git-receive-pack '/myapp.git'; rm -rf /",
        "git-receive-pack '/myapp.git'\nls",
        "git-receive-pack '/my'\\''app.git'",
        'git-receive-pack "/myapp.git"',
        "git-receive-pack /myapp.git",
        "git-receive-pack '/myapp\x00.git'",
        "git-upload-archive '/myapp.git'",
        "scp -t /tmp",
        "git-receive-pack '/" + "a" * 64 + ".git'",
        "git-receive-pack '/" + "a" * 400 + ".git'",
        "git-receive-pack '/myäpp.git'",
    ],
)
def test_refuses_everything_else_with_one_line(command):
    with pytest.raises(Refused) as refused:
        commands.parse_command(command)
    message = str(refused.value)
    assert message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("version=2", "version=2"),
        ("version=2:object-format=sha1", "version=2:object-format=sha1"),
        (None, None),
        ("version=2; rm -rf /", None),
        ("x" * 100, None),
        ("", None),
    ],
)
def test_protocol_version_passes_only_git_shapes(value, kept):
    assert commands.protocol_version(value) == kept
