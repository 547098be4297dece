"""One build: from a pushed commit to a slug in the object store.

    git archive (quarantined objects) → sources/<app>/<sha>.tar.gz
    → unpack → buildpack compile (in place) → tar → slugs/<app>/<sha>.tar.gz

Everything happens in a scratch directory of the build's own, removed afterwards whatever the
outcome. The whole build runs under `build_timeout`; cancelling it kills the buildpack's
processes (`buildpacks.running`).

git runs as the builder, on the builder's repository. Everything that reads or runs the app's
content runs in the build's sandbox (`buildpacks.sandboxing`), as the app's build user: tar
unpacking the source (fed on its standard input), the compile, tar packing the slug (onto its
standard output, into a file of the builder's); the slug's members are owned by root, as
before, not by the build's user id.
"""

import asyncio
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from deis_builder.app import repos
from deis_builder.app.context import Context
from deis_builder.buildpacks import detection, output, running, sandboxing
from deis_builder.domain import paths
from deis_builder.domain.refs import RefUpdate
from deis_builder.errors import BuildFailed, BuildTimedOut
from deis_shared.objectstore import keys


@dataclass(frozen=True)
class Built:
    """What a successful build produced."""

    slug_key: str
    slug_bytes: int
    buildpack: str
    procfile: dict[str, str]


def _size(size: int) -> str:
    if size < 100_000:
        return f"{size / 1000:.1f} KB"
    return f"{size / 1_000_000:.1f} MB"


async def build(
    ctx: Context,
    *,
    app: str,
    update: RefUpdate,
    quarantine: dict[str, str],
    out: output.Output,
) -> Built:
    """Build commit `update.new` of `app` into a stored slug, reporting progress to `out`.

    Raises:
        BuildFailed: The build failed; its message is the one-line reason.
        BuildTimedOut: The build ran past `build_timeout`.
        ObjectStoreError: The store refused or could not be reached.
    """
    work = ctx.scratch / uuid.uuid4().hex
    try:
        async with asyncio.timeout(ctx.settings.build_timeout):
            return await _build_in(
                ctx, app=app, update=update, quarantine=quarantine, out=out, work=work
            )
    except TimeoutError:
        raise BuildTimedOut(
            f"the build ran past its time limit of {ctx.settings.build_timeout:.0f} s"
        ) from None
    finally:
        await asyncio.to_thread(shutil.rmtree, work, ignore_errors=True)


async def _build_uid(ctx: Context, *, app: str) -> int | None:
    """The user id `app`'s builds run as; None: the builder's own (it is not root)."""
    if ctx.uids is None:
        return None
    try:
        return await asyncio.to_thread(ctx.uids.uid, app)
    except RuntimeError as exc:  # every id of the range is given
        raise BuildFailed(f"{exc}: the operator must raise DEIS_BUILD_UID_COUNT") from exc


async def _build_in(
    ctx: Context,
    *,
    app: str,
    update: RefUpdate,
    quarantine: dict[str, str],
    out: output.Output,
    work: Path,
) -> Built:
    sha = update.short_sha
    cache = paths.cache_path(ctx.caches, app)
    uid = await _build_uid(ctx, app=app)
    space = await asyncio.to_thread(sandboxing.prepare, work=work, cache_dir=cache, uid=uid)
    sandbox = sandboxing.build_sandbox(
        space, app=app, max_processes=ctx.settings.build_max_processes
    )
    env = sandboxing.environment(ctx.build_env, home=space.home)
    app_dir = space.app_dir
    source = space.work / "source.tar.gz"
    repo = paths.repo_path(ctx.repos, app)
    await repos.archive(repo, sha=update.new, dest=source, env=ctx.env, quarantine=quarantine)
    await ctx.store.put_file(key=keys.source_key(app, sha), path=source)
    await running.run(
        ["tar", "-xzf", "-"], sandbox=sandbox, cwd=app_dir, env=env, out=out, stdin=source
    )
    compiled = await detection.compile_app(
        app_dir=app_dir,
        cache_dir=space.cache_dir,
        sandbox=sandbox,
        out=out,
        env=env,
        python=ctx.python,
    )
    slug = space.work / "slug.tar.gz"
    await output.step(out, "Compressing slug...")
    await running.run(
        ["tar", "--owner=0", "--group=0", "--numeric-owner", "-czf", "-", "."],
        sandbox=sandbox,
        cwd=app_dir,
        env=env,
        out=out,
        stdout=slug,
    )
    size = (await asyncio.to_thread(slug.stat)).st_size
    await output.note(out, f"done, {_size(size)}")
    slug_key = keys.slug_key(app, sha)
    await ctx.store.put_file(key=slug_key, path=slug)
    return Built(
        slug_key=slug_key,
        slug_bytes=size,
        buildpack=compiled.buildpack,
        procfile=dict(compiled.procfile),
    )
