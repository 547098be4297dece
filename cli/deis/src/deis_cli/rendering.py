"""Output: aligned tables and headings for people, raw JSON for scripts, progress on stderr.

Everything meant for people goes to stdout except progress and warnings, so that a script can
pipe a command's output while the user still sees that something is happening.
"""

import itertools
import json
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

import click

SPINNER = "|/-\\"


def echo(text: str = "") -> None:
    """Print a line on stdout."""
    click.echo(text)


def warn(text: str) -> None:
    """Print a line on stderr."""
    click.echo(text, err=True)


def heading(text: str) -> None:
    """A section heading, Deis style: `=== myapp Config`."""
    click.echo(f"=== {text}")


def emit_json(data: Any) -> None:
    """The controller's JSON, as it sent it, for scripts."""
    click.echo(json.dumps(data, indent=2))


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str] = ()) -> str:
    """Rows as left-aligned columns separated by two spaces (the last column unpadded)."""
    lines = (
        [list(headers), *([str(cell) for cell in row] for row in rows)]
        if headers
        else [[str(cell) for cell in row] for row in rows]
    )
    if not lines:
        return ""
    widths = [max(len(line[i]) for line in lines if i < len(line)) for i in range(len(lines[0]))]
    out = []
    for line in lines:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])] + line[-1:]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def show_table(rows: Sequence[Sequence[Any]], headers: Sequence[str] = ()) -> None:
    """Print `table(rows, headers)`."""
    text = table(rows, headers)
    if text:
        click.echo(text)


def mapping(values: dict[str, Any], *, empty: str) -> None:
    """Key/value pairs as two columns, sorted; `empty` when there are none."""
    if not values:
        click.echo(empty)
        return
    show_table([(key, _value(values[key])) for key in sorted(values)])


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


class _Spinner:
    """Turns a spinner on a terminal until stopped."""

    def __init__(self, stream: TextIO, message: str) -> None:
        self.stream = stream
        self.message = message
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="deis-progress", daemon=True)

    def _run(self) -> None:
        for frame in itertools.cycle(SPINNER):
            self.stream.write(f"\r{self.message} {frame}")
            self.stream.flush()
            if self.stopped.wait(0.1):
                return

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()


@contextmanager
def progress(message: str) -> Iterator[None]:
    """Show `message...` on stderr while the block runs: a spinner on a terminal, else dots.

    Ends the line with `done` or, if the block raises, `failed`.
    """
    stream = sys.stderr
    spinner: _Spinner | None = None
    if stream.isatty():
        spinner = _Spinner(stream, f"{message}...")
        spinner.start()
    else:
        stream.write(f"{message}...")
        stream.flush()
    outcome = "failed"
    try:
        yield
        outcome = "done"
    finally:
        if spinner is not None:
            spinner.stop()
            stream.write(f"\r{message}... {outcome}\n")
        else:
            stream.write(f" {outcome}\n")
        stream.flush()


def confirm_name(*, action: str, expected: str, given: str | None) -> bool:
    """Deis's destructive-action prompt: the user types `expected` (or passed `--confirm`)."""
    if given is not None:
        return given == expected
    click.echo(
        " !    WARNING: Potentially Destructive Action\n"
        f" !    This command will {action}\n"
        f' !    To proceed, type "{expected}" or re-run this command with --confirm={expected}\n',
        err=True,
    )
    try:
        answer = click.prompt(">", default="", show_default=False, err=True, prompt_suffix=" ")
    except click.Abort:  # end of input: nobody confirmed
        return False
    return str(answer).strip() == expected
