"""The SSH server's lifecycle without a running builder."""

from deis_builder.ssh import hostkeys, server


async def test_close_is_idempotent_and_safe_before_start():
    ssh = server.SshServer(ctx=None)  # type: ignore[arg-type]  # close never reads it
    await ssh.close()
    await ssh.close()
    assert ssh.state is server.SshState.CLOSED


def test_the_host_key_is_made_once_private_and_kept(tmp_path):
    path = tmp_path / "keys" / "host"
    made = hostkeys.load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    again = hostkeys.load_or_create(path)
    assert again.export_public_key() == made.export_public_key()
