"""Import every module of a package: `python scripts/import_all.py deis_shared`.

Run inside an environment holding only that member and its declared dependencies
(`uv run --isolated --no-dev --package <member>`), it fails on an import of a package the
member forgot to declare, which the shared development environment would hide.
"""

import importlib
import pkgutil
import sys


def main(package_name: str) -> int:
    package = importlib.import_module(package_name)
    names = [m.name for m in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}.")]
    for name in names:
        importlib.import_module(name)
    print(f"{package_name}: {len(names) + 1} modules import with declared dependencies only")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
