"""What a new process of a release is started with: its limits, command and environment."""

from pathlib import Path

from deis_scheduler.local import health, sandboxing, slugs, supervision
from deis_scheduler.local.context import LocalContext
from deis_scheduler.local.supervision import Launch, Proc
from deis_shared.kv import desired as desired_kv


def check_limits(desired: desired_kv.DesiredState, *, kinds: set[str]) -> None:
    """Refuse, before anything starts, limits of process types `kinds` that cannot be applied.

    Raises:
        CannotRun: a memory or CPU limit this scheduler cannot parse.
    """
    for kind in sorted(kinds):
        supervision.applicable_limits(
            who=kind, memory=desired.limits.memory.get(kind), cpu=desired.limits.cpu.get(kind)
        )


def output_dir(ctx: LocalContext, *, app: str) -> Path:
    """Where the output FIFOs of `app`'s processes live."""
    return ctx.settings.data_dir / "output" / app


def new_proc(
    ctx: LocalContext,
    *,
    app: str,
    desired: desired_kv.DesiredState,
    release: slugs.UnpackedRelease,
    kind: str,
    index: int,
) -> Proc:
    """Process `kind`.`index` of `app`'s release `desired`, on a free port, not started yet."""
    assert desired.build is not None
    port = health.free_port(ctx.settings.process_host)
    extra = {
        "PORT": str(port),
        "DEIS_APP": app,
        "WORKFLOW_RELEASE": f"v{desired.release.version}",
        "WORKFLOW_RELEASE_SUMMARY": desired.release.summary,
        "WORKFLOW_RELEASE_CREATED": desired.release.created.isoformat(),
        "SOURCE_VERSION": desired.build.sha,
    }
    env = slugs.process_env(release=release, base=ctx.base_env, config=desired.config, extra=extra)
    return Proc(
        app=app,
        type=kind,
        index=index,
        release=desired.release.version,
        port=port,
        launch=Launch(
            command=desired.build.procfile[kind],
            cwd=release.path,
            env=env,
            sandbox=sandboxing.app_sandbox(
                ctx.uids,
                app=app,
                release_dir=release.path,
                max_processes=ctx.settings.max_app_processes,
            ),
            output_dir=output_dir(ctx, app=app),
            memory=desired.limits.memory.get(kind),
            cpu=desired.limits.cpu.get(kind),
            cpu_control=ctx.cpu,
        ),
        last_lines=ctx.settings.last_lines,
    )
