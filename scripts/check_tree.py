"""Check the workspace layout and module sizes (docs/conventions.md: the workspace, module sizes).

Every workspace member has `pyproject.toml` and `README.md`. A member that is a package
(`tool.uv.package` is not false) also has `src/<package>/py.typed` and `tests/`. A Python module
over 600 lines fails unless `scripts/size-allowlist.txt` lists it with an owner and a reason.
"""

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 600


def members() -> list[Path]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found: list[Path] = []
    for pattern in config["tool"]["uv"]["workspace"]["members"]:
        found.extend(sorted(p for p in ROOT.glob(pattern) if p.is_dir()))
    return found


def check_member(member: Path) -> list[str]:
    name = member.relative_to(ROOT)
    problems = [
        f"{name}: missing {f}" for f in ("pyproject.toml", "README.md") if not (member / f).exists()
    ]
    if problems:
        return problems
    config = tomllib.loads((member / "pyproject.toml").read_text())
    if config.get("tool", {}).get("uv", {}).get("package") is False:
        if (member / "src").exists():
            problems.append(f"{name}: has src/ but is marked `package = false`")
        return problems
    packages = (
        [p for p in (member / "src").glob("*") if p.is_dir()] if (member / "src").exists() else []
    )
    if not packages:
        problems.append(f"{name}: no package under src/")
    for package in packages:
        if not (package / "py.typed").exists():
            problems.append(f"{name}: {package.name} lacks py.typed")
    if not (member / "tests").is_dir():
        problems.append(f"{name}: missing tests/")
    return problems


def oversized() -> list[str]:
    allowlist_file = ROOT / "scripts" / "size-allowlist.txt"
    allowed = set()
    if allowlist_file.exists():
        for line in allowlist_file.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                allowed.add(line.split()[0])
    problems = []
    for path in sorted(ROOT.glob("**/*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith((".venv/", "build/")):
            continue
        lines = len(path.read_text().splitlines())
        if lines > LIMIT and rel not in allowed:
            problems.append(f"{rel}: {lines} lines (limit {LIMIT}; split it or allowlist it)")
    return problems


def main() -> int:
    problems = [p for member in members() for p in check_member(member)] + oversized()
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
