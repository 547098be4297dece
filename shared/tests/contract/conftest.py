"""Contract-test options: `--update-snapshots` rewrites the committed JSON Schema snapshots.

pytest reads `pytest_addoption` from a conftest only if it loads that conftest before parsing
the command line, which it does for conftests in the directories named on the command line
(and their parents). So regenerate with the directory (or a file in it) named explicitly:

    uv run pytest shared/tests/contract --update-snapshots
"""

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-snapshots",
        action="store_true",
        default=False,
        help="rewrite shared/tests/contract/snapshots/*.json from the current models",
    )


@pytest.fixture
def update_snapshots(request: pytest.FixtureRequest) -> bool:
    """Whether snapshot tests should rewrite their snapshot instead of comparing."""
    return bool(request.config.getoption("--update-snapshots"))
