"""Schemathesis over `/openapi.json` of a running controller: no 5xx, every response as documented.

The controller runs as a real process (uvicorn, Postgres, nats-server). Schemathesis generates
requests from the OpenAPI document, authenticated as an admin, with the app-id path parameter
fixed to an existing app so that app routes are reached, and checks two things only:
`not_a_server_error` and `response_schema_conformance`. Examples and time are bounded so the
test fits the suite; the seed is fixed so a failure reproduces.
"""

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

MAX_EXAMPLES = 15
MAX_SECONDS = 60

CONFIG = """
seed = 20261123
[generation]
database = "none"
[checks]
enabled = false
not_a_server_error.enabled = true
response_schema_conformance.enabled = true
[phases.stateful]
enabled = false
[parameters]
app_id = "schema-app"

# These two would revoke or delete the very credentials the run uses.
[[operations]]
include-name = "POST /v2/auth/tokens/"
enabled = false

[[operations]]
include-name = "DELETE /v2/auth/cancel/"
enabled = false

# docs/api.md §2.2: with no logger answering, logs are a 500 (text) and run a 503. No logger or
# scheduler runs here, so those statuses are the documented answer, not a crash.
[[operations]]
include-name = "GET /v2/apps/{app_id}/logs/"
checks.not_a_server_error.expected-statuses = ["2XX", "4XX", 500]

[[operations]]
include-name = "POST /v2/apps/{app_id}/run/"
checks.not_a_server_error.expected-statuses = ["2XX", "4XX", 503]

# Changes that roll out wait for the scheduler's report (docs/api.md §2.4-2.6); with none running,
# the deadline (DEIS_ROLLOUT_WAIT, 1 s here) passes and the answer is the documented 503.
[[operations]]
include-name = "POST /v2/apps/{app_id}/builds/"
checks.not_a_server_error.expected-statuses = ["2XX", "4XX", 503]

[[operations]]
include-name = "POST /v2/apps/{app_id}/config/"
checks.not_a_server_error.expected-statuses = ["2XX", "4XX", 503]

[[operations]]
include-name = "POST /v2/apps/{app_id}/releases/rollback/"
checks.not_a_server_error.expected-statuses = ["2XX", "4XX", 503]

# A scale waits for its processes too (docs/api.md §2.2): once a fuzzed build exists, its counts
# never run here.
[[operations]]
include-name = "POST /v2/apps/{app_id}/scale/"
checks.not_a_server_error.expected-statuses = ["2XX", "4XX", 503]
"""


@pytest.mark.timeout(MAX_SECONDS + 60)
async def test_no_server_error_and_no_schema_violation(start_controller_process, tmp_path: Path):
    controller = await start_controller_process(
        DEIS_BUILDER_KEY="schema-builder-key",
        DEIS_RPC_TIMEOUT="0.5",
        DEIS_ROLLOUT_WAIT="1",
        DEIS_LOG_LEVEL="ERROR",
    )
    async with httpx.AsyncClient(base_url=controller.url) as http:
        user = {"username": "schema-admin", "password": "pw"}
        assert (await http.post("/v2/auth/register/", json=user)).status_code == 201
        token = (await http.post("/v2/auth/login/", json=user)).json()["token"]
        created = await http.post(
            "/v2/apps/", json={"id": "schema-app"}, headers={"Authorization": f"token {token}"}
        )
        assert created.status_code == 201
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st is not None
    result = await asyncio.to_thread(
        subprocess.run,
        [
            st,
            "--config-file",
            str(config),
            "--no-color",
            "run",
            f"{controller.url}/openapi.json",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--max-time",
            str(MAX_SECONDS),
            "--header",
            f"Authorization: token {token}",
            "--request-timeout",
            "10",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=MAX_SECONDS + 45,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
