"""The public surface of deis_shared is deliberate, and importing it touches no network."""

import pkgutil
import subprocess
import sys

import deis_shared

# The names of `__all__` load on first use; these imports load them, as a service's main() does.
from deis_shared import (  # noqa: F401
    DeisError,
    PermanentError,
    Service,
    ServiceRunner,
    ServiceSettings,
    TransientError,
    run,
)


def test_all_is_sorted_and_complete() -> None:
    assert deis_shared.__all__ == sorted(deis_shared.__all__)
    public = {name for name in vars(deis_shared) if not name.startswith("_")}
    modules = {
        name for name, value in vars(deis_shared).items() if type(value).__name__ == "module"
    }
    assert public - modules == set(deis_shared.__all__)


def test_every_module_imports_with_sockets_blocked() -> None:
    names = sorted(
        info.name for info in pkgutil.walk_packages(deis_shared.__path__, prefix="deis_shared.")
    )
    assert "deis_shared.runner" in names
    program = (
        "import importlib, socket, sys\n"
        "def refuse(*args, **kwargs):\n"
        "    raise RuntimeError('network used at import time')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "for name in sys.argv[1:]:\n"
        "    importlib.import_module(name)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program, *names], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
