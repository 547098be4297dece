"""Builder and app addresses derived from the controller URL."""

import pytest

from deis_cli import addresses, errors


@pytest.mark.parametrize(
    ("controller", "override", "expected"),
    [
        ("http://deis.10.0.0.1.nip.io", None, "ssh://git@deis-builder.10.0.0.1.nip.io:2222/a.git"),
        ("https://deis.example.com:443", None, "ssh://git@deis-builder.example.com:2222/a.git"),
        ("http://localhost:8000", None, "ssh://git@127.0.0.1:2222/a.git"),
        ("http://deis.localhost:8000", None, "ssh://git@127.0.0.1:2222/a.git"),
        ("http://127.0.0.1:8000", None, "ssh://git@127.0.0.1:2222/a.git"),
        ("http://10.1.2.3", None, "ssh://git@10.1.2.3:2222/a.git"),
        ("http://[::1]:8000", None, "ssh://git@::1:2222/a.git"),
        ("http://localhost:8000", "ssh://git@127.0.0.1:2223", "ssh://git@127.0.0.1:2223/a.git"),
        ("http://localhost:8000", "git@builder.test", "ssh://git@builder.test:2222/a.git"),
    ],
)
def test_builder_remote(controller, override, expected):
    assert addresses.builder(controller, override).remote_url("a") == expected


def test_controller_without_host():
    with pytest.raises(errors.InvalidInput):
        addresses.builder("not a url")


@pytest.mark.parametrize(
    ("controller", "domain", "router", "expected"),
    [
        ("http://deis.10.0.0.1.nip.io", "myapp", None, "http://myapp.10.0.0.1.nip.io"),
        ("https://deis.example.com", "myapp", None, "https://myapp.example.com"),
        ("http://localhost:8000", "myapp", None, "http://myapp.localhost:8080"),
        ("http://127.0.0.1:8000", "myapp", None, "http://myapp.localhost:8080"),
        ("http://deis.localhost:8000", "myapp", None, "http://myapp.localhost:8080"),
        ("http://127.0.0.1:8000", "myapp", "http://localhost:9000", "http://myapp.localhost:9000"),
        ("http://127.0.0.1:8000", "myapp", "https://apps.test", "https://myapp.apps.test"),
        ("http://127.0.0.1:8000", "www.example.com", None, "http://www.example.com"),
    ],
)
def test_app_url(controller, domain, router, expected):
    assert addresses.app_url(controller=controller, domain=domain, router=router) == expected
