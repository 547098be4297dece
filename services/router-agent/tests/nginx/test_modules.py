"""The stream module: built in, a dynamic module to load, or missing (with the package named)."""

from pathlib import Path

import pytest

from deis_router_agent.errors import NginxFailed
from deis_router_agent.nginx import checking, modules

DEBIAN = (
    "nginx version: nginx/1.22.1\n"
    "built with OpenSSL 3.0.11\n"
    "configure arguments: --with-cc-opt='-g -O2 -fPIC' --prefix=/usr/share/nginx "
    "--modules-path={modules} --with-http_ssl_module --with-stream=dynamic "
    "--with-stream_geoip_module=dynamic\n"
)
NGINX_ORG = (
    "nginx version: nginx/1.26.2\n"
    "configure arguments: --prefix=/etc/nginx --modules-path=/usr/lib/nginx/modules "
    "--with-stream --with-stream_realip_module --with-stream_ssl_module\n"
)
WITHOUT = "nginx version: nginx/1.26.2\nconfigure arguments: --prefix=/usr/local/nginx\n"


def test_a_built_in_stream_module_is_not_loaded() -> None:
    assert modules.stream_module(NGINX_ORG) is None


def test_debians_dynamic_module_is_loaded_from_the_modules_path(tmp_path: Path) -> None:
    (tmp_path / "ngx_stream_module.so").write_bytes(b"")
    assert modules.stream_module(DEBIAN.format(modules=tmp_path)) == (
        tmp_path / "ngx_stream_module.so"
    )


def test_a_missing_dynamic_module_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(NginxFailed, match="apt-get install libnginx-mod-stream"):
        modules.stream_module(DEBIAN.format(modules=tmp_path))


def test_an_nginx_without_the_stream_module_is_refused() -> None:
    with pytest.raises(NginxFailed, match="built without it"):
        modules.stream_module(WITHOUT)


async def test_this_machines_nginx_has_a_stream_module() -> None:
    """The router fronts the builder with this nginx (Debian: `libnginx-mod-stream`)."""
    found = await modules.find_stream_module(checking.find_binary("nginx"))
    assert found is None or found.is_file()


OPENRESTY = (
    "nginx version: openresty/1.25.3.1\n"
    "configure arguments: --prefix=/usr/local/openresty/nginx "
    "--add-module=../ngx_lua-0.10.26 --add-module=../ngx_devel_kit-0.3.3 --with-stream\n"
)


def test_debians_lua_module_and_its_ndk_are_loaded_in_order(tmp_path: Path) -> None:
    for name in modules.LUA_MODULES:
        (tmp_path / name).write_bytes(b"")
    assert modules.lua_modules(DEBIAN.format(modules=tmp_path)) == (
        tmp_path / "ndk_http_module.so",
        tmp_path / "ngx_http_lua_module.so",
    )


def test_a_built_in_lua_module_is_not_loaded() -> None:
    assert modules.lua_modules(OPENRESTY) == ()


@pytest.mark.parametrize("present", [(), ("ndk_http_module.so",), ("ngx_http_lua_module.so",)])
def test_a_missing_lua_module_names_the_packages(tmp_path: Path, present: tuple[str, ...]) -> None:
    for name in present:
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(NginxFailed, match="apt-get install libnginx-mod-http-lua lua-resty-core"):
        modules.lua_modules(DEBIAN.format(modules=tmp_path))
    with pytest.raises(NginxFailed, match="balancer needs nginx's Lua module"):
        modules.lua_modules(
            WITHOUT.replace("/usr/local/nginx", "/x --modules-path=" + str(tmp_path))
        )


async def test_this_machines_nginx_has_the_lua_module() -> None:
    """Every app's balancer (Debian: `libnginx-mod-http-lua`, `lua-resty-core`)."""
    found = await modules.find_lua_modules(checking.find_binary("nginx"))
    assert all(path.is_file() for path in found)
