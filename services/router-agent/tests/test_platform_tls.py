# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""HTTPS for the platform's own name: `deis.<platform domain>` served with the platform's
certificate (from `DEIS_PLATFORM_CERT_FILE`/`_KEY_FILE`, copied into the data dir), an app's
wildcard never answering for it, bad pairs refused at start, and a rotated pair picked up."""

import asyncio
import dataclasses
import datetime
import json
import logging
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from deis_router_agent import service
from deis_router_agent.app import platform_tls
from deis_router_agent.domain import challenging, skeleton
from deis_router_agent.domain.options import KeyPair, Options, Paths, Upstream
from deis_router_agent.errors import BadPlatformCertificate
from deis_router_agent.nginx.layout import Layout
from deis_router_agent.settings import RouterSettings
from deis_shared.kv import routes as routes_kv
from deis_testing import free_port

DOMAIN = "example.test"
"""Two labels: OpenSSL (curl) matches no wildcard certificate of a single label's domain."""
PLATFORM = f"deis.{DOMAIN}"

# -- helpers ---------------------------------------------------------------------------------


def make_pair(*names, key=None):
    """A self-signed certificate for `names` (EC P-256): (certificate PEM, key PEM), bytes."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return certificate.public_bytes(pem), key_pem


def mount(directory, certificate, key):
    """Write `tls.crt` and `tls.key` as a Secret volume changes them: each by a rename."""
    directory.mkdir(exist_ok=True)
    for name, data in (("tls.crt", certificate), ("tls.key", key)):
        tmp = directory / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, directory / name)
    return directory / "tls.crt", directory / "tls.key"


async def curl(port, host, *, cafile, path="/"):
    """HTTPS GET of `host` (SNI and Host) through nginx, verified with `cafile`:
    (status, body) or (None, curl's error)."""
    command = ["curl", "-sS", "--max-time", "5", "--cacert", str(cafile),
               "--resolve", f"{host}:{port}:127.0.0.1", f"https://{host}:{port}{path}"]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        return None, err.decode()
    return 200, out.decode()


# -- rendering -------------------------------------------------------------------------------

OPTIONS = Options(
    paths=Paths(pid=Path("/d/nginx.pid"), logs=Path("/d/logs"), temp=Path("/d/temp"),
                tls=Path("/d/tls"), lua=Path("/d/lua"), balancer_socket=Path("/d/run/b.sock")),
    platform_domain="deis.test", listen_address="", http_port=8080, https_port=8443,
    https_redirect_port=443, status_port=9999, worker_user=None,
    controller=Upstream(host="controller", port=8000),
    platform_tls=KeyPair(certificate=Path("/d/tls/_platform/deis.pem"),
                         key=Path("/d/tls/_platform/deis.pem")),
)  # fmt: skip


def controller_servers(options):
    text = skeleton.render_main(options=options, revision=1)
    lines = [line.strip() for line in text.splitlines()]
    found = []
    for start, line in enumerate(lines):
        if line == "server_name deis.deis.test;":
            end = lines.index("}", start)
            found.append(lines[start - 1 : end])
    return found


def test_with_a_certificate_the_https_server_proxies_to_the_controller():
    assert controller_servers(OPTIONS) == [
        ["listen 8080;", "server_name deis.deis.test;", *challenging.server_lines(),
         "location / { proxy_pass http://deis-controller; }"],
        ["listen 8443 ssl;", "server_name deis.deis.test;",
         'ssl_certificate "/d/tls/_platform/deis.pem";',
         'ssl_certificate_key "/d/tls/_platform/deis.pem";',
         "location / { proxy_pass http://deis-controller; }"],
    ]  # fmt: skip


def test_enforced_https_redirects_the_http_server():
    enforced = dataclasses.replace(OPTIONS, platform_https_enforced=True)
    plain, _ = controller_servers(enforced)
    assert plain[-1] == "location / { return 301 https://$host$request_uri; }"
    elsewhere = dataclasses.replace(enforced, https_redirect_port=8443)
    plain, _ = controller_servers(elsewhere)
    assert plain[-1] == "location / { return 301 https://$host:8443$request_uri; }"
    # Without a certificate nothing is redirected, and handshakes are refused.
    bare = dataclasses.replace(enforced, platform_tls=None)
    plain, secure = controller_servers(bare)
    assert plain[-1] == "location / { proxy_pass http://deis-controller; }"
    assert secure[2:] == ["ssl_reject_handshake on;"]


# -- reading and checking the pair ------------------------------------------------------------


def pair_settings(crt, key, **values):
    return RouterSettings(
        controller_upstream="c:8000", platform_cert_file=crt, platform_key_file=key, **values
    )


async def test_a_good_pair_is_copied_as_one_private_file(tmp_path):
    crt, key = mount(tmp_path / "secret", *make_pair(PLATFORM))
    layout = Layout(tmp_path / "data")
    layout.tls.mkdir(parents=True, mode=0o700)
    source = await platform_tls.install(pair_settings(crt, key), layout)
    assert source == platform_tls.Source(certificate=crt.read_bytes(), key=key.read_bytes())
    copy = layout.platform_tls.certificate
    assert layout.platform_tls.key == copy
    found = copy.stat()
    assert (found.st_mode & 0o777, found.st_uid) == (0o600, os.geteuid())
    assert copy.parent.stat().st_mode & 0o777 == 0o700
    text = copy.read_bytes()
    assert text.startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = x509.load_pem_x509_certificates(text)
    assert loaded == x509.load_pem_x509_certificates(crt.read_bytes())


async def test_bad_pairs_are_refused_with_both_files_named(tmp_path):
    layout = Layout(tmp_path / "data")
    crt, _ = mount(tmp_path / "one", *make_pair(PLATFORM))
    _, other_key = mount(tmp_path / "two", *make_pair(PLATFORM))
    with pytest.raises(BadPlatformCertificate, match="do not match") as refused:
        await platform_tls.install(pair_settings(crt, other_key), layout)
    assert str(crt) in str(refused.value)
    assert str(other_key) in str(refused.value)
    missing = tmp_path / "nope.key"
    with pytest.raises(BadPlatformCertificate, match=f"DEIS_PLATFORM_KEY_FILE {missing} cannot"):
        await platform_tls.install(pair_settings(crt, missing), layout)
    with pytest.raises(BadPlatformCertificate, match=r"DEIS_PLATFORM_CERT_FILE .* no PEM cert"):
        await platform_tls.install(pair_settings(other_key, other_key), layout)
    with pytest.raises(BadPlatformCertificate, match=r"DEIS_PLATFORM_KEY_FILE .* no unencrypted"):
        await platform_tls.install(pair_settings(crt, crt), layout)
    assert not layout.platform_tls.certificate.exists()


async def test_the_agent_does_not_start_with_a_mismatched_pair(nats_server_factory, tmp_path):
    server = nats_server_factory()
    crt, _ = mount(tmp_path / "one", *make_pair(PLATFORM))
    _, key = mount(tmp_path / "two", *make_pair(PLATFORM))
    sockets = Path(tempfile.mkdtemp(prefix="deis-ra-"))
    settings = pair_settings(
        crt, key, nats_url=server.url, data_dir=tmp_path / "router",
        balancer_socket=sockets / "b.sock", http_port=free_port(), https_port=free_port(),
    )  # fmt: skip
    try:
        with pytest.raises(BadPlatformCertificate, match="do not match"):
            async with service.running(settings):
                pass
    finally:
        sockets.rmdir()


# -- through nginx -----------------------------------------------------------------------------


@pytest.fixture
def secret(tmp_path):
    """The mounted Secret's directory, holding a certificate for `PLATFORM`."""
    certificate, key = make_pair(PLATFORM)
    mount(tmp_path / "secret", certificate, key)
    (tmp_path / "ca-1.pem").write_bytes(certificate)
    return tmp_path / "secret"


@pytest.fixture
def enforced():
    return False


@pytest.fixture
def router_overrides(upstreams, secret, enforced):
    controller = upstreams("controller")
    return {
        "controller_upstream": f"127.0.0.1:{controller.port}",
        "platform_cert_file": secret / "tls.crt",
        "platform_key_file": secret / "tls.key",
        "platform_cert_check_seconds": 0.2,
        "platform_https_enforced": enforced,
        "platform_domain": DOMAIN,
    }


async def test_the_platform_name_is_served_over_https_with_the_platform_certificate(edge, tmp_path):
    await edge.settled()
    port = edge.https_port
    status, body = await curl(port, PLATFORM, cafile=tmp_path / "ca-1.pem", path="/v2/")
    assert status == 200, body
    seen = json.loads(body)
    assert (seen["name"], seen["path"]) == ("controller", "/v2/")
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["host"] == PLATFORM
    assert headers["x-forwarded-proto"] == "https"
    assert headers["x-forwarded-port"] == str(port)
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert len(headers["x-request-id"]) == 32
    # HTTP keeps answering on the name (nothing enforces HTTPS), with its own proto.
    plain = (await edge.get(PLATFORM, "/v2/")).json()
    assert plain["name"] == "controller"
    assert {k.lower(): v for k, v in plain["headers"].items()}["x-forwarded-proto"] == "http"
    # Unknown names still get no handshake.
    status, _ = await curl(port, "nope.example.test", cafile=tmp_path / "ca-1.pem")
    assert status is None


async def test_an_apps_wildcard_certificate_never_answers_for_the_platform_name(
    edge, upstreams, until, tmp_path
):
    web = upstreams("web")
    wild_pem, wild_key = make_pair("*.example.test", PLATFORM)
    (tmp_path / "wild.pem").write_bytes(wild_pem)
    wildcard = routes_kv.Certificate(
        name="wild",
        domains=["*.example.test", PLATFORM],
        certificate=wild_pem.decode(),
        key=wild_key.decode(),
    )
    await edge.route("wild", domains=["*.example.test"], certificates=[wildcard])
    await edge.serve("wild", web.port)

    async def wildcard_served():
        status, body = await curl(
            edge.https_port, "other.example.test", cafile=tmp_path / "wild.pem"
        )
        return status == 200 and '"name": "web"' in body

    await until(wildcard_served)
    await edge.settled()
    # Verified against the platform's certificate: it is the one presented, not the wildcard.
    status, body = await curl(edge.https_port, PLATFORM, cafile=tmp_path / "ca-1.pem")
    assert status == 200, body
    assert '"name": "controller"' in body
    status, _ = await curl(edge.https_port, PLATFORM, cafile=tmp_path / "wild.pem")
    assert status is None
    assert not edge.rejected()


async def test_a_rotated_certificate_is_served_after_the_check_interval(
    edge, secret, until, tmp_path, caplog
):
    await edge.settled()
    assert (await curl(edge.https_port, PLATFORM, cafile=tmp_path / "ca-1.pem"))[0] == 200
    # A pair that does not match is logged and ignored: the certificate in use stays.
    caplog.set_level(logging.INFO, logger=platform_tls.__name__)
    first_key = (secret / "tls.key").read_bytes()
    mount(secret, make_pair(PLATFORM)[0], first_key)

    def logged(text):
        async def check():
            return any(text in record.getMessage() for record in caplog.records)

        return check

    await until(logged("do not match"))
    assert (await curl(edge.https_port, PLATFORM, cafile=tmp_path / "ca-1.pem"))[0] == 200
    # The renewed pair, as Kubernetes writes a Secret's new version, is served soon after.
    certificate, key = make_pair(PLATFORM)
    (tmp_path / "ca-2.pem").write_bytes(certificate)
    mount(secret, certificate, key)

    await until(logged("nginx reloaded"))  # once the old workers stopped accepting
    status, body = await curl(edge.https_port, PLATFORM, cafile=tmp_path / "ca-2.pem")
    assert status == 200, body
    assert '"name": "controller"' in body
    status, body = await curl(edge.https_port, PLATFORM, cafile=tmp_path / "ca-1.pem")
    assert status is None, body  # the old one is gone


@pytest.mark.parametrize("enforced", [True])
async def test_enforced_https_redirects_plain_http_on_the_platform_name(edge, tmp_path):
    await edge.settled()
    response = await edge.get(PLATFORM, "/v2/apps?limit=1")
    assert response.status_code == 301
    location = f"https://{PLATFORM}:{edge.https_port}/v2/apps?limit=1"
    assert response.headers["location"] == location
    status, body = await curl(edge.https_port, PLATFORM, cafile=tmp_path / "ca-1.pem")
    assert status == 200, body  # curl's error otherwise
    assert '"name": "controller"' in body
