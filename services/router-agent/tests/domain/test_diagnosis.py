# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""nginx's complaints are pinned on the app whose file or certificate they name."""

from pathlib import Path

from deis_router_agent.domain import diagnosis

RELEASES, TLS = Path("/data/releases"), Path("/data/tls")


def blame(message):
    return diagnosis.blame(message, releases=RELEASES, tls=TLS)


def test_a_line_in_an_app_file_names_the_app():
    message = (
        'nginx: [emerg] host not found in upstream "x:1" in /data/releases/12/apps/my-app.conf:3'
    )
    assert blame(message) == "my-app"


def test_a_certificate_path_names_the_app():
    message = (
        '[emerg] 1#1: cannot load certificate "/data/tls/shop/main-0123.crt": PEM_read_bio failed\n'
        "nginx: configuration file /data/releases/3/nginx.conf test failed"
    )
    assert blame(message) == "shop"


def test_other_files_and_other_directories_name_nobody():
    assert blame("nginx: [emerg] unknown directive in /data/releases/3/nginx.conf:9") is None
    assert blame("nginx: [emerg] in /elsewhere/releases/3/apps/shop.conf:2") is None
    assert blame("") is None
