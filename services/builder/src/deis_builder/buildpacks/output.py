"""Where build output goes, and the Heroku-style shape of its lines.

The compile steps write through an `Output`; the push wires it to the pre-receive hook, so that
every line reaches the user's terminal as `remote: ...` while the build runs.

    -----> Python app detected        (`step`)
           Installing requirements    (`note`: indented to line up under the step text)
"""

from typing import Protocol

STEP_PREFIX = "-----> "
NOTE_PREFIX = " " * len(STEP_PREFIX)


class Output(Protocol):
    """A sink for build output, one line at a time."""

    async def line(self, text: str) -> None:
        """Write one line (without its newline) to the user."""
        ...


async def step(out: Output, text: str) -> None:
    """Write a step heading: `-----> text`."""
    await out.line(f"{STEP_PREFIX}{text}")


async def note(out: Output, text: str) -> None:
    """Write a detail under the current step, indented to line up with its text."""
    await out.line(f"{NOTE_PREFIX}{text}")
