"""Process types: Procfile checks, build types, the formation a build gets, scale bodies.

The rules of docs/api.md §2.4 (Procfile validation), §2.2 (scale body) and §3.4 (build type and
default formation). `next_structure` folds the two places upstream changes `structure` during a
build (the Procfile-removal scale in `Build.save` and the default/type-change formation in
`App.deploy`) into one pure step.
"""

from dataclasses import dataclass
from typing import Any, Literal

from deis_controller import errors
from deis_controller.domain import jsondata
from deis_shared import processtypes

PROCESS_TYPE_MESSAGE = "Process types can only contain lowercase alphanumeric characters"
EMPTY_COMMAND_MESSAGE = "Command can't be empty for process type"

BuildType = Literal["dockerfile", "buildpack", "image"]

_CANONICAL = ("cmd", "web")
"""The process types a build-type change resets, as upstream does."""


@dataclass(frozen=True)
class BuildShape:
    """What the formation rules look at in a build."""

    procfile: dict[str, str]
    sha: str
    dockerfile: str


def validate_procfile(procfile: Any) -> dict[str, str]:
    """A build's Procfile (an object, or a string holding one) checked: type → command.

    `None` means no Procfile (`{}`).

    Raises:
        FieldErrors: On `procfile`: not an object, an empty command, or a bad type name.
    """
    if isinstance(procfile, str):
        try:
            procfile = jsondata.loads(procfile)
        except ValueError:
            raise errors.FieldErrors.one("procfile", "Value must be valid JSON.") from None
    if procfile is None:
        return {}
    if not isinstance(procfile, dict):
        raise errors.FieldErrors.one(
            "procfile", f'Expected a dictionary of items but got type "{type(procfile).__name__}".'
        )
    checked: dict[str, str] = {}
    for proc_type, command in procfile.items():
        # Upstream checks the command before the name; the first bad entry decides the message.
        if command is None or command == "":
            raise errors.FieldErrors.one("procfile", EMPTY_COMMAND_MESSAGE)
        if not processtypes.PATTERN.fullmatch(proc_type):
            raise errors.FieldErrors.one("procfile", PROCESS_TYPE_MESSAGE)
        if not isinstance(command, str):
            # Upstream stores any JSON here; a command is text to every runner, so say so.
            raise errors.FieldErrors.one("procfile", "Command must be a string for process type")
        checked[proc_type] = command
    return checked


def build_type(*, sha: str, dockerfile: str) -> BuildType:
    """`dockerfile` if a Dockerfile was used, else `buildpack` if built from git, else `image`."""
    if dockerfile:
        return "dockerfile"
    if sha:
        return "buildpack"
    return "image"


def default_structure(build: BuildShape) -> dict[str, int]:
    """The formation a build starts with when nothing is scaled yet (docs/api.md §3.4)."""
    if "web" in build.procfile:
        return {"web": 1}
    if not build.sha or build.dockerfile:
        return {"cmd": 1}
    if build.procfile:
        # A buildpack app without `web`: nothing runs until the user scales a type.
        return {}
    return {"web": 1}


def _shape_type(build: BuildShape) -> BuildType:
    return build_type(sha=build.sha, dockerfile=build.dockerfile)


def next_structure(
    *,
    structure: dict[str, int],
    old: BuildShape | None,
    new: BuildShape,
    procfile_missing_remove: bool,
) -> dict[str, int]:
    """The app's structure after releasing build `new` on top of build `old`.

    1. Types of the old Procfile missing from the new one are scaled to 0 (entries are kept)
       when both builds have a Procfile or `procfile_missing_remove` is on.
    2. An app with no structure yet gets the default formation of `new`; otherwise, if the
       build type changed, `cmd` and `web` are zeroed and the default is merged in.

    Unlike upstream, "no structure yet" is judged before step 1, so removed types scaled to 0
    do not keep a first formation from starting.
    """
    result = dict(structure)
    if old is not None and (procfile_missing_remove or (old.procfile and new.procfile)):
        for proc_type in old.procfile:
            if proc_type not in new.procfile:
                result[proc_type] = 0
    if not structure:
        result.update(default_structure(new))
    elif old is not None and _shape_type(old) != _shape_type(new):
        for proc_type in _CANONICAL:
            if proc_type in result:
                result[proc_type] = 0
        result.update(default_structure(new))
    return result


def parse_scale(body: dict[str, Any]) -> dict[str, int]:
    """A scale request (`{type: count}`, numeric strings allowed) as counts.

    Raises:
        BadRequest: "Invalid scaling format: ..." for a count that is not an integer, a
            negative count, or a bad process type name.
    """
    counts: dict[str, int] = {}
    for proc_type, count in body.items():
        if isinstance(count, bool) or (isinstance(count, float) and not count.is_integer()):
            # int() would take these (True is 1, 1.5 is 1): a count is a whole number.
            raise errors.BadRequest(f"Invalid scaling format: {count!r} is not a whole number")
        try:
            counts[proc_type] = int(count)
        except (TypeError, ValueError, OverflowError) as error:
            raise errors.BadRequest(f"Invalid scaling format: {error}") from None
    if any(count < 0 for count in counts.values()):
        raise errors.BadRequest("Invalid scaling format: ['Must be greater than or equal to zero']")
    for proc_type in counts:
        if not processtypes.PATTERN.fullmatch(proc_type):
            raise errors.BadRequest(f"Invalid scaling format: {PROCESS_TYPE_MESSAGE}")
    return counts


def check_formation(structure: dict[str, int], *, per_type: int, per_app: int) -> None:
    """Refuse a formation above the caps (`max_processes_per_type`, `max_processes_per_app`).

    Raises:
        BadRequest: A type asks for more than `per_type`, or all together for more than
            `per_app`.
    """
    for proc_type, count in structure.items():
        if count > per_type:
            raise errors.BadRequest(
                f"Invalid scaling format: {proc_type}={count} is more than the {per_type} "
                "processes a type may have"
            )
    if (total := sum(structure.values())) > per_app:
        raise errors.BadRequest(
            f"Invalid scaling format: {total} processes in all is more than the {per_app} "
            "an app may have"
        )
