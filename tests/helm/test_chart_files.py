"""The chart's generated files are what the code makes today (scripts/chart_files.py)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_generated_files_follow_the_permission_table_and_the_roles():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "chart_files.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_nats_users_of_the_chart_are_the_services_it_runs(chart):
    conf = chart.find(chart.render({}), "ConfigMap", "deis-nats-config")["data"]["nats.conf"]
    for user in ("controller", "builder", "scheduler", "logger", "router"):
        assert f'"user": "{user}", "password": $NATS_{user.upper()}_PASSWORD' in conf
    initdb = chart.find(chart.render({}), "ConfigMap", "deis-postgres-initdb")
    assert (
        r"\getenv controller_password PG_CONTROLLER_PASSWORD" in initdb["data"]["10-deis-roles.sql"]
    )
