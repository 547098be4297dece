"""Entry point: `deis-slugrunner start <type>` runs a slug; `deis-slugrunner health` checks it.

`start` is what the scheduler's pods run (`args: ["start", <type>]`): fetch and unpack the slug
(`running.prepare`), then exec the command, as the app's user (`launching`). It
exits 1 with one log line when the slug cannot be had, 2 on bad settings or arguments; once it
has exec'd, the exit code is the app's.
"""

import argparse
import asyncio
import logging
import sys

import pydantic

from deis_shared import errors, logconfig
from deis_slugrunner import health, launching, running, settings as settings_module
from deis_slugrunner.settings import RunnerSettings

logger = logging.getLogger("deis_slugrunner")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deis-slugrunner",
        description="Run a Deis slug: fetch it from the object store (DEIS_SLUG_KEY), unpack"
        " it into DEIS_APP_DIR (/app), and exec DEIS_COMMAND with /bin/sh -c.",
    )
    commands = parser.add_subparsers(dest="action", required=True)
    start = commands.add_parser("start", help="fetch, unpack and run the slug")
    start.add_argument("process_type", help="the process type (web, worker, ...)")
    commands.add_parser("health", help="exit 0 when the app has started and, if web, listens")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Run the slug (this process becomes the app), or check its health."""
    args = _parser().parse_args(argv)
    try:
        settings = RunnerSettings()
    except pydantic.ValidationError as error:
        print(f"deis-slugrunner: invalid settings: {error}", file=sys.stderr)  # noqa: T201
        sys.exit(2)
    environ = settings_module.process_environment()
    if args.action == "health":
        sys.exit(0 if health.healthy(settings.scratch_dir, port=environ.get("PORT")) else 1)
    logconfig.configure_logging(
        service=settings.service_name, level=settings.log_level, json_lines=settings.log_json
    )
    try:
        launch = asyncio.run(
            running.prepare(
                settings,
                process_type=args.process_type,
                environ=environ,
                sleep=asyncio.sleep,
                uid=launching.app_uid(settings.run_as_user),
            )
        )
        health.mark_started(settings.scratch_dir, process_type=args.process_type)
        logger.info("starting %s: %s", args.process_type, launch.argv[-1])
        logging.shutdown()
        launching.execute(launch)
    except (errors.DeisError, OSError) as error:
        logger.error("cannot run the slug: %s", error)
        sys.exit(1)


if __name__ == "__main__":
    main()
