# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""TLS by SNI from each app's certificates, HTTPS enforcement, and certificates nginx refuses."""

import asyncio
import subprocess

from deis_router_agent.nginx import agentsocket
from deis_shared.kv import routes as routes_kv


def make_certificate(tmp_path, domain):
    """A self-signed certificate (EC P-256) for `domain`: (certificate PEM, key PEM, its file)."""
    directory = tmp_path / f"cert-{domain.replace('*', 'star')}"
    directory.mkdir()
    crt, key = directory / "cert.pem", directory / "key.pem"
    command = [
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", str(key), "-out", str(crt), "-days", "2", "-subj", f"/CN={domain}",
        "-addext", f"subjectAltName=DNS:{domain}",
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    return crt.read_text(), key.read_text(), crt


def certificate(name, domain, pem, key):
    return routes_kv.Certificate(name=name, domains=[domain], certificate=pem, key=key)


async def curl(edge, url, *, host, cafile=None, port=None):
    """curl `url` with `host` resolved to nginx; (status, headers text, body)."""
    port = port or edge.https_port
    command = ["curl", "-sS", "-D", "-", "--max-time", "5", "--resolve", f"{host}:{port}:127.0.0.1"]
    if cafile is not None:
        command += ["--cacert", str(cafile)]
    process = await asyncio.create_subprocess_exec(
        *command, url, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        return None, err.decode(), ""
    head, _, body = out.decode().partition("\r\n\r\n")
    return int(head.split()[1]), head.lower(), body


async def test_tls_is_served_by_sni_with_each_apps_certificate(edge, upstreams, until, tmp_path):
    one, two = upstreams("one"), upstreams("two")
    pem1, key1, ca1 = make_certificate(tmp_path, "one.example.com")
    pem2, key2, ca2 = make_certificate(tmp_path, "two.example.com")
    await edge.route("one", domains=["one.example.com"], certificates=[
        certificate("c1", "one.example.com", pem1, key1)
    ])  # fmt: skip
    await edge.route("two", domains=["two.example.com"], certificates=[
        certificate("c2", "two.example.com", pem2, key2)
    ])  # fmt: skip
    await edge.serve("one", one.port)
    await edge.serve("two", two.port)

    async def secure(host, cafile, name):
        url = f"https://{host}:{edge.https_port}/"
        status, _, body = await curl(edge, url, host=host, cafile=cafile)
        return status == 200 and f'"name": "{name}"' in body

    await until(lambda: secure("one.example.com", ca1, "one"))
    await until(lambda: secure("two.example.com", ca2, "two"))
    await edge.settled()
    # Verified against each app's own certificate: the SNI picked it.
    assert not await secure("two.example.com", ca1, "two")
    # An unknown name gets no handshake at all, and plain HTTP still works when not enforced.
    status, _, _ = await curl(edge, f"https://nope.example.com:{edge.https_port}/", host="x")
    assert status is None
    assert (await edge.get("one.example.com")).json()["name"] == "one"


async def test_enforced_https_redirects_and_sends_hsts(edge, upstreams, until, tmp_path):
    web = upstreams("web")
    pem, key, ca = make_certificate(tmp_path, "secure.example.com")
    cert = certificate("main", "secure.example.com", pem, key)
    await edge.route(
        "sec", domains=["secure.example.com"], certificates=[cert], https_enforced=True
    )
    await edge.serve("sec", web.port)

    async def redirected():
        response = await edge.get("secure.example.com", "/path?q=1")
        return response.status_code == 301 and response.headers["location"] == (
            f"https://secure.example.com:{edge.https_port}/path?q=1"
        )

    await until(redirected)
    url = f"https://secure.example.com:{edge.https_port}/"

    async def secure():
        status, head, _ = await curl(edge, url, host="secure.example.com", cafile=ca)
        return status == 200 and head

    head = await until(secure)
    await edge.settled()
    assert "strict-transport-security: max-age=15724800" in head
    # The default domain has no certificate: it is still served over plain HTTP.
    assert (await edge.get("sec.localhost")).status_code == 200


async def test_a_broken_certificate_is_rejected_for_its_app_only(edge, upstreams, until, tmp_path):
    good, bad, moved = upstreams("good"), upstreams("bad"), upstreams("moved")
    pem, key, _ = make_certificate(tmp_path, "bad.example.com")
    await edge.route("bad", domains=["bad.example.com"])
    await edge.serve("bad", bad.port)
    await edge.route("good")
    await edge.serve("good", good.port)

    async def both_served():
        first, second = await edge.get("good.localhost"), await edge.get("bad.example.com")
        return first.status_code == 200 and second.status_code == 200

    await until(both_served)
    broken = certificate("broken", "bad.example.com", pem.replace("M", "A", 5), key)
    await edge.route("bad", domains=["bad.example.com"], certificates=[broken])
    await edge.serve("bad", moved.port, version=2)  # a new release, in the same batch
    nope = certificate("nope", "newcomer.localhost", pem, "-----BEGIN PRIVATE KEY-----\nAAAA\n")
    await edge.route("newcomer", certificates=[nope])
    await edge.serve("newcomer", good.port)
    strict = certificate("strict", "strict.localhost", pem, "-----BEGIN PRIVATE KEY-----\nAAAA\n")
    await edge.route("strict", certificates=[strict], https_enforced=True)
    await edge.serve("strict", good.port)
    await edge.route("good", domains=["www.good.com"])

    async def rejected_all():
        return {event["app"] for event in edge.rejected()} >= {"bad", "newcomer", "strict"}

    await until(rejected_all)
    await until(lambda: _ok(edge, "www.good.com"))  # the rest of the batch went live
    await edge.settled()
    # Refused certificates fall back to the ones that last went live (here: none), and the
    # app's new endpoints still go live: a broken certificate never freezes an app's routing.
    assert (await edge.get("bad.example.com")).json()["name"] == "moved"
    assert (await edge.get("newcomer.localhost")).json()["name"] == "good"
    # An app that enforces HTTPS is not served over plain HTTP instead.
    assert (await edge.get("strict.localhost")).status_code == 404
    messages = {event["app"]: event["message"] for event in edge.rejected()}
    assert messages["bad"].startswith("certificate broken of app bad: no PEM certificate")
    assert messages["newcomer"].startswith("certificate nope of app newcomer: no unencrypted")
    assert messages["strict"].startswith("certificate strict of app strict: no unencrypted")


async def test_a_refused_certificate_change_keeps_the_certificate_that_went_live(
    edge, upstreams, until, tmp_path
):
    web = upstreams("web")
    pem, key, ca = make_certificate(tmp_path, "keep.example.com")
    await edge.route("keep", domains=["keep.example.com"], certificates=[
        certificate("first", "keep.example.com", pem, key)
    ])  # fmt: skip
    await edge.serve("keep", web.port)
    await until(lambda: _https_ok(edge, "keep.example.com", ca))
    broken = certificate("second", "keep.example.com", pem.replace("M", "A", 5), key)
    await edge.route("keep", domains=["keep.example.com"], certificates=[broken])
    await until(lambda: _rejected(edge, "keep"))
    await edge.settled()
    assert await _https_ok(edge, "keep.example.com", ca)  # still served with the first one


async def test_a_fallback_keeps_the_live_certificate_with_the_new_routing(
    edge, upstreams, until, tmp_path
):
    web = upstreams("web")
    pem, key, ca = make_certificate(tmp_path, "kept.example.com")
    first = certificate("first", "kept.example.com", pem, key)
    await edge.route("kept", domains=["kept.example.com"], certificates=[first])
    await edge.serve("kept", web.port)
    await edge.route("other")
    await edge.serve("other", web.port)
    await until(lambda: _https_ok(edge, "kept.example.com", ca))
    await until(lambda: _ok(edge, "other.localhost"))
    await edge.settled()
    before = await _held(edge)
    broken = certificate("second", "kept.example.com", pem.replace("M", "A", 5), key)
    domains = ["kept.example.com", "www.kept.example.com"]
    await edge.route("kept", domains=domains, certificates=[broken])
    await until(lambda: _rejected(edge, "kept"))
    await until(lambda: _ok(edge, "www.kept.example.com"))  # new routing, first certificate
    await edge.settled()
    after = await _held(edge)
    assert after["other"] == before["other"]
    assert "www.kept.example.com=-" in after["kept"]
    assert "kept.example.com=kept/first-" in after["kept"]
    assert after["kept"] != before["kept"]
    assert await _https_ok(edge, "kept.example.com", ca)


async def _held(edge):
    """Per app, its line in nginx's route table (GET /routes on the agent's socket)."""
    body = await agentsocket.request(
        edge.router.ctx.layout.socket, method="GET", target="/routes", seconds=5, what="read"
    )
    lines = body.decode().splitlines()
    return {line.split()[1]: line for line in lines}


async def _https_ok(edge, host, cafile):
    status, _, _ = await curl(edge, f"https://{host}:{edge.https_port}/", host=host, cafile=cafile)
    return status == 200


async def _rejected(edge, app):
    return any(event["app"] == app for event in edge.rejected())


async def _ok(edge, host):
    return (await edge.get(host)).status_code == 200
