"""`deisctl`: run the whole platform on this machine.

deisctl up [-d]        start PostgreSQL, NATS and every service; supervise them
                       (`--set controller.rollout_wait=20`: a service's setting, `tuning`)
deisctl status         what runs, from the state file
deisctl logs <name>    a supervised process's log (`-f` follows)
deisctl down           stop everything (apps included)
deisctl compose-env    credentials and configuration for `docker compose up` instead

Stopping the platform (`down`, or SIGTERM or Ctrl-C to `up`) stops the services in reverse
order, the scheduler taking the app processes with it, then runs the backstop (`reaping`) that
stops any app process still running as the scheduler's records name it. `down` on a data dir
where no supervisor runs (it was killed, say) runs that backstop alone.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import click

from deisctl import composing, reaping, settings, state as ctl_state, tuning
from deisctl.errors import CtlError
from deisctl.layout import Layout, default_data_dir
from deisctl.platform import Options, make_plan
from deisctl.supervisor import Component, Supervisor

START_TIMEOUT = 240.0
"""Seconds `up -d` waits for the detached platform to be ready."""

DATA_DIR = click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=default_data_dir,
    show_default="~/.local/share/deis (/var/lib/deis as root)",
    help="Where all state lives.",
)


@click.group()
def cli() -> None:
    """Run the Deis platform on this machine."""


@cli.command()
@DATA_DIR
@click.option("--api-port", default=8000, show_default=True, help="The controller's REST API.")
@click.option("--ssh-port", default=2222, show_default=True, help="The builder's `git push`.")
@click.option("--http-port", default=8080, show_default=True, help="The router's HTTP.")
@click.option("--https-port", default=8443, show_default=True, help="The router's HTTPS.")
@click.option("--platform-domain", default="localhost", show_default=True)
@click.option("--database-url", envvar="DATABASE_URL", help="External PostgreSQL.")
@click.option("--nats-url", envvar="NATS_URL", help="External NATS with JetStream.")
@click.option(
    "--s3-endpoint-url",
    envvar=["S3_ENDPOINT_URL", "DEIS_S3_ENDPOINT_URL"],
    help="External S3 instead of the data dir (credentials from DEIS_S3_* or AWS_*).",
)
@click.option("--s3-bucket", envvar=["S3_BUCKET", "DEIS_S3_BUCKET"], default="deis")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="SERVICE.SETTING=VALUE",
    help="A service's setting for this run, e.g. controller.rollout_wait=20 (repeatable;"
    " <data-dir>/config/<service>.env holds DEIS_* lines for every run).",
)
@click.option(
    "--acme-directory",
    help="Directory URL of the ACME server issuing automatic TLS certificates"
    " (default: Let's Encrypt's); same as --set controller.acme_directory=URL.",
)
@click.option(
    "--acme-ca-bundle",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A CA file to trust when talking to the ACME server (private or test servers);"
    " same as --set controller.acme_ca_bundle=PATH.",
)
@click.option("-d", "--detach", is_flag=True, help="Run in the background.")
@click.option("--supervise", is_flag=True, hidden=True)
def up(
    data_dir: Path,
    api_port: int,
    ssh_port: int,
    http_port: int,
    https_port: int,
    platform_domain: str,
    database_url: str | None,
    nats_url: str | None,
    s3_endpoint_url: str | None,
    s3_bucket: str,
    sets: tuple[str, ...],
    acme_directory: str | None,
    acme_ca_bundle: Path | None,
    detach: bool,
    supervise: bool,
) -> None:
    """Start the platform and keep it running."""
    layout = Layout(data_dir.absolute())
    options = Options(
        data_dir=data_dir.absolute(),
        api_port=api_port,
        ssh_port=ssh_port,
        http_port=http_port,
        https_port=https_port,
        platform_domain=platform_domain,
        database_url=database_url,
        nats_url=nats_url,
        s3_endpoint_url=s3_endpoint_url,
        s3_bucket=s3_bucket,
        # Checked before anything starts (and again by the detached supervisor, from its argv).
        service_settings=tuning.settings(
            layout,
            [*tuning.named(acme_directory=acme_directory, acme_ca_bundle=acme_ca_bundle), *sets],
            environ=settings.environment(),
        ),
    )
    if detach:
        _start_detached(layout)
        return
    _run(options, layout, quiet=supervise)


def _start_detached(layout: Layout) -> None:
    if ctl_state.held(layout):
        raise CtlError(
            f"the platform is already running from {layout.root}"
            " (`deisctl status` shows it, `deisctl down` stops it)"
        )
    layout.create()
    ctl_state.remove(layout)
    argv = [a for a in sys.argv[1:] if a not in ("-d", "--detach")]
    with layout.log("deisctl").open("ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "deisctl.main", *argv, "--supervise"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT
    click.echo("Starting the platform", nl=False, err=True)
    while time.monotonic() < deadline:
        current = ctl_state.read(layout)
        if current is not None and current.pid == child.pid:
            if current.ready:
                click.echo(" done.", err=True)
                _summary(layout, current)
                return
            if current.failed:
                click.echo("", err=True)
                raise CtlError(current.failed)
        if child.poll() is not None:
            click.echo("", err=True)
            tail = layout.log("deisctl").read_text(errors="replace").splitlines()[-15:]
            raise CtlError("the platform did not start:\n" + "\n".join(tail))
        click.echo(".", nl=False, err=True)
        time.sleep(0.5)
    raise CtlError(f"the platform was not ready after {START_TIMEOUT:.0f} s: see {layout.logs}")


class _Stop:
    """Set by SIGTERM/SIGINT; during start-up they abort it."""

    def __init__(self) -> None:
        self.requested = False
        self.started = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:  # noqa: ARG002
        self.requested = True
        if not self.started:
            raise KeyboardInterrupt


def _run(options: Options, layout: Layout, *, quiet: bool) -> None:
    lock = ctl_state.Lock(layout)
    lock.acquire()
    stop = _Stop()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    supervisor: Supervisor | None = None
    current = ctl_state.State(pid=os.getpid(), data_dir=str(layout.root))
    try:
        layout.create()
        ctl_state.write(layout, current)
        plan = make_plan(options, layout, environ=settings.environment())
        current.urls, current.warnings = plan.urls, plan.warnings
        supervisor = Supervisor(plan.components)

        def note(_: Component | None = None) -> None:
            assert supervisor is not None
            current.processes = {c.name: c.pid for c in supervisor.components}
            ctl_state.write(layout, current)

        supervisor.start(on_ready=note)
        stop.started = True
        current.ready = True
        note()
        if not quiet:
            _summary(layout, current)
        supervisor.watch(stopping=lambda: stop.requested, on_change=note)
    except CtlError as exc:
        current.failed = str(exc)
        ctl_state.write(layout, current)
        raise
    except KeyboardInterrupt:
        pass
    finally:
        if supervisor is not None:
            supervisor.stop()
            _stop_leftover_apps(layout)
        if not current.failed:
            ctl_state.remove(layout)
        lock.release()


def _stop_leftover_apps(layout: Layout) -> None:
    """The backstop: no app process of this data dir runs on after the platform stopped."""
    try:
        stopped = reaping.stop_leftover_apps(layout, environ=settings.environment())
    except CtlError as exc:
        click.echo(f"deisctl: warning: {exc}", err=True)
        return
    for line in stopped:
        click.echo(f"{line}, which the scheduler had left running", err=True)


def _summary(layout: Layout, current: ctl_state.State) -> None:
    urls = current.urls
    lines = [
        f"Deis is running; its data is in {layout.root}.",
        "",
        f"  controller  {urls['controller']}",
        f"  apps        {urls['apps']}",
        f"  git remote  {urls['git']}",
        "",
        "First steps:",
        f"  deis register {urls['controller']}",
        "  deis keys:add ~/.ssh/id_ed25519.pub",
        "  deis create myapp            # in your app's git repository",
        "  git push deis main",
        f"  curl {urls['apps'].replace('<app>', 'myapp')}/",
        "",
        "`deisctl status` shows the services, `deisctl logs <service>` their logs,"
        " `deisctl down` stops everything.",
    ]
    lines.extend(f"warning: {warning}" for warning in current.warnings)
    click.echo("\n".join(lines))


@cli.command()
@DATA_DIR
def status(data_dir: Path) -> None:
    """Show what runs."""
    layout = Layout(data_dir.absolute())
    current = ctl_state.read(layout)
    if not ctl_state.held(layout) or current is None:
        click.echo(f"not running (data dir {layout.root})")
        sys.exit(3)
    click.echo(f"{'ready' if current.ready else 'starting'} (supervisor pid {current.pid})")
    for name, pid in current.processes.items():
        alive = pid is not None and _alive(pid)
        click.echo(f"  {name:<12} {'up' if alive else 'down':<6} {pid or '-'}")
    for key, url in current.urls.items():
        click.echo(f"  {key:<12} {url}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@cli.command()
@DATA_DIR
@click.option("--timeout", default=90.0, show_default=True, help="Seconds to wait.")
def down(data_dir: Path, timeout: float) -> None:
    """Stop the platform and its apps."""
    layout = Layout(data_dir.absolute())
    current = ctl_state.read(layout)
    if not ctl_state.held(layout) or current is None:
        click.echo(f"not running (data dir {layout.root})")
        _stop_leftover_apps(layout)  # what a supervisor that was killed left behind
        return
    os.kill(current.pid, signal.SIGTERM)
    click.echo("Stopping", nl=False, err=True)
    deadline = time.monotonic() + timeout
    while ctl_state.held(layout):
        if time.monotonic() > deadline:
            click.echo("", err=True)
            raise CtlError(f"still stopping after {timeout:.0f} s (supervisor pid {current.pid})")
        click.echo(".", nl=False, err=True)
        time.sleep(0.5)
    click.echo(" stopped.", err=True)


@cli.command()
@DATA_DIR
@click.argument("name")
@click.option("-n", "--lines", default=100, show_default=True, help="How many lines.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
def logs(data_dir: Path, name: str, lines: int, follow: bool) -> None:
    """Print a supervised process's log.

    NAME is one of postgres, nats, controller, builder, scheduler, logger, router, deisctl.
    """
    layout = Layout(data_dir.absolute())
    names = {p.stem for p in layout.logs.glob("*.log")} if layout.logs.is_dir() else set()
    if name not in names:
        raise CtlError(f"no log named {name!r}; there are: {', '.join(sorted(names)) or 'none'}")
    path = layout.log(name)
    with path.open("rb") as log:
        tail = log.read().decode(errors="replace").splitlines()[-lines:]
        click.echo("\n".join(tail))
        while follow:
            chunk = log.read()
            if chunk:
                click.echo(chunk.decode(errors="replace"), nl=False)
            else:
                time.sleep(0.2)


@cli.command("compose-env")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=Path(),
    show_default="the current directory",
    help="The compose project's directory (where docker-compose.yml is).",
)
def compose_env(directory: Path) -> None:
    """Write docker compose's .env (first run only) and its NATS and PostgreSQL configuration."""
    written = composing.write(directory.absolute())
    if written.created:
        click.echo(f"wrote {written.env} with new credentials")
    elif written.added:
        click.echo(f"kept {written.env}; added {', '.join(written.added)}")
    else:
        click.echo(f"kept {written.env}")
    click.echo(f"wrote {written.nats_config} and {written.initdb_script}")


def main() -> None:
    """Entry point: errors become one line and exit code 1."""
    try:
        cli.main(standalone_mode=False)
    except CtlError as exc:
        click.echo(f"deisctl: {exc}", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        sys.exit(130)


if __name__ == "__main__":
    main()
