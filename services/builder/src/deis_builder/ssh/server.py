"""The SSH server `git push` talks to: public keys only, looked up through the controller.

A key is accepted when the controller's `key` RPC names its owner; an unknown key fails
authentication with a banner telling the user to add it (`deis keys:add`). Only the SSH user
`git` exists. No passwords, shells, PTYs, port, agent or X11 forwarding, no SFTP: a session
may run exactly the git commands `domain.commands` accepts.

    SshServer: NEW --start()--> SERVING --close()--> CLOSED

`close` stops accepting, lets sessions in progress finish within the caller's deadline, and
cancels what is left when the caller gives up.
"""

import asyncio
import enum
import logging

import asyncssh

from deis_builder.app import access
from deis_builder.app.context import Context
from deis_builder.errors import Refused
from deis_builder.ssh import hostkeys, sessions

logger = logging.getLogger(__name__)

SSH_USER = "git"
UNKNOWN_KEY = "! unknown SSH key: add it with `deis keys:add`\r\n"


class _Connection(asyncssh.SSHServer):
    """One client connection's authentication."""

    def __init__(self, ctx: Context, *, live: set[asyncssh.SSHServerConnection]) -> None:
        self._ctx = ctx
        self._live = live
        self._conn: asyncssh.SSHServerConnection | None = None
        self._owners: dict[str, str | None] = {}

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._live.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002
        if self._conn is not None:
            self._live.discard(self._conn)

    def begin_auth(self, username: str) -> bool:  # noqa: ARG002 -- checked per key
        return True

    def password_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        assert self._conn is not None
        if username != SSH_USER:
            self._conn.send_auth_banner(f"! log in as {SSH_USER}@, not {username}@\r\n")
            return False
        fingerprint = key.get_fingerprint("md5").removeprefix("MD5:")
        # OpenSSH offers a key, then signs with it: two calls, one lookup.
        if fingerprint not in self._owners:
            try:
                self._owners[fingerprint] = await access.key_owner(
                    self._ctx.nc, fingerprint=fingerprint, timeout=self._ctx.settings.rpc_timeout
                )
            except Refused as exc:
                self._conn.send_auth_banner(f"! {exc}\r\n")
                return False
        owner = self._owners[fingerprint]
        if owner is None:
            self._conn.send_auth_banner(UNKNOWN_KEY)
            return False
        self._conn.set_extra_info(deis_user=owner, deis_fingerprint=fingerprint)
        return True


class SshState(enum.Enum):
    """Where an `SshServer` is in its life."""

    NEW = "new"
    SERVING = "serving"
    CLOSED = "closed"


class SshServer:
    """The listening SSH server and the sessions it is serving."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._sessions: set[asyncio.Task[None]] = set()
        self._connections: set[asyncssh.SSHServerConnection] = set()
        self.state = SshState.NEW

    @property
    def port(self) -> int:
        """The port it listens on (useful with `ssh_port=0`)."""
        if self._acceptor is None:
            raise RuntimeError("the SSH server is not started")
        return int(self._acceptor.get_port())

    async def start(self) -> None:
        """Listen on the configured address with the persistent host key."""
        if self.state is not SshState.NEW:
            raise RuntimeError(f"SSH server is {self.state.value}")
        settings = self._ctx.settings
        key = await asyncio.to_thread(hostkeys.load_or_create, settings.host_key)
        self._acceptor = await asyncssh.create_server(
            lambda: _Connection(self._ctx, live=self._connections),
            settings.ssh_host,
            settings.ssh_port,
            server_host_keys=[key],
            process_factory=self._serve,
            encoding=None,
            allow_pty=False,
            line_editor=False,
            agent_forwarding=False,
            x11_forwarding=False,
            login_timeout=30,
            keepalive_interval=30,
        )
        self.state = SshState.SERVING
        logger.info("listening for git pushes", extra={"port": self.port})

    async def _serve(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        try:
            await sessions.serve(self._ctx, process)
        finally:
            self._sessions.discard(task)

    async def close(self) -> None:
        """Stop accepting; wait for sessions in progress (cancelled if the caller gives up).

        Idempotent; safe before `start()`.
        """
        if self.state is SshState.CLOSED:
            return
        self.state = SshState.CLOSED
        if self._acceptor is not None:
            self._acceptor.close()
        try:
            await asyncio.gather(*self._sessions, return_exceptions=True)
        except asyncio.CancelledError:
            for task in list(self._sessions):
                task.cancel()
            await asyncio.gather(*self._sessions, return_exceptions=True)
            raise
        finally:
            for conn in list(self._connections):
                conn.close()
            for conn in list(self._connections):
                await conn.wait_closed()
            if self._acceptor is not None:
                await self._acceptor.wait_closed()
