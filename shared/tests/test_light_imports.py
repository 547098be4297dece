"""Importing a small module of deis_shared loads none of the runner's stack.

`deisctl` and the test harness import `deis_shared.binaries` to find PostgreSQL and nats-server;
that must not cost them asyncpg, NATS, uvicorn and the object store's client. The package's
`__init__` re-exports the runner's names lazily, so only `from deis_shared import run` (or the
runner itself) loads them.
"""

import subprocess
import sys

import pytest

# Each test starts a Python; the last imports the runner's stack: more than a unit test's 5 s
# on a loaded machine.
pytestmark = pytest.mark.timeout(60)

HEAVY = ("asyncpg", "nats", "uvicorn", "aiobotocore", "starlette")


def _loaded_after(statement: str) -> str:
    program = f"{statement}\nimport sys\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_binaries_loads_nothing_heavy() -> None:
    assert _loaded_after("import deis_shared.binaries") == "[]"


def test_the_package_and_its_small_modules_load_nothing_heavy() -> None:
    assert _loaded_after("import deis_shared, deis_shared.appnames, deis_shared.errors") == "[]"
    assert _loaded_after("from deis_shared import DeisError, ServiceSettings") == "[]"


def test_the_runners_names_still_come_from_the_package() -> None:
    program = (
        "import deis_shared\n"
        "from deis_shared import Service, ServiceRunner, run\n"
        "from deis_shared import runner\n"
        "assert run is runner.run and Service is runner.Service\n"
        "assert ServiceRunner is runner.ServiceRunner\n"
        "assert deis_shared.run is runner.run\n"
        "assert set(deis_shared.__all__) <= set(dir(deis_shared))\n"
        "try:\n"
        "    deis_shared.no_such_name\n"
        "except AttributeError:\n"
        "    pass\n"
        "else:\n"
        "    raise SystemExit('no AttributeError')\n"
    )
    assert _loaded_after(program) == str(sorted(HEAVY))
