"""End to end: what a hostile collaborator sends is refused, and the app keeps deploying.

Each request of issue 14, made through the REST API of a platform started by `deisctl up` with
its default limits, must get a 4xx with a JSON detail, make no release and start no process;
afterwards `deis config:set` still rolls out a new release that nginx serves. The module's
platform fixture checks at `deisctl down` that no app process is left.
"""

import json
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def token(home: Path) -> str:
    profile = json.loads((home / ".deis" / "client.json").read_text())
    return str(profile["token"])


def nested(depth: int, *, kind: str) -> bytes:
    opening, closing = ("[", "]") if kind == "array" else ('{"a":', "}")
    return (opening * depth + "1" + closing * depth).encode()


def test_hostile_requests_are_refused_and_the_app_deploys_after(
    python_app, platform, developer, until
):
    app = f"{developer.username}-hostile"
    copy = developer.checkout(app, python_app)
    developer.deis("create", app, cwd=copy)
    developer.push(copy)
    assert platform.get(app).text == "hello from v2\n"
    releases = developer.deis("releases", "-a", app).stdout
    headers = {"Authorization": f"token {token(developer.home)}"}
    base = f"{platform.controller}/v2/apps/{app}"
    hostile = [
        ("config", {"json": {"values": {"BIG": "x" * (10 << 20)}}}, 413),
        ("config", {"json": {"values": {"BIG": "x" * (40 << 10)}}}, 400),
        ("config", {"json": {"cpu": {"web": "-1"}}}, 400),
        ("config", {"json": {"memory": {"web": "200GB/100MB"}}}, 400),
        ("scale", {"json": {"web": 99999999}}, 400),
        ("scale", {"json": {"web": 1e9}}, 400),
        ("config", {"content": nested(100_000, kind="array")}, 400),
        ("config", {"content": nested(50_000, kind="object")}, 400),
        ("settings", {"content": nested(100_000, kind="array")}, 400),
        ("run", {"json": {"command": "echo " + "x" * (300 << 10)}}, 400),
    ]
    with httpx.Client(headers={**headers, "Content-Type": "application/json"}, timeout=30) as http:
        for path, request, status in hostile:
            answer = http.post(f"{base}/{path}/", **request)  # type: ignore[arg-type]
            assert answer.status_code == status, (path, answer.text[:300])
            # Deis's shapes: {"detail": ...}, or {"<field>": [...]} for a field's rule.
            assert answer.json(), (path, answer.text)
    assert developer.deis("releases", "-a", app).stdout == releases
    listing = developer.deis("ps:list", "-a", app).stdout
    assert listing.count(f"{app}-web-v") == 1

    developer.deis("config:set", "GREETING=still", "-a", app)
    until(lambda: platform.get(app).text == "still from v3\n")
