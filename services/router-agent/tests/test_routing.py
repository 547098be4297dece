# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""Apps added, changed and removed in KV are served by nginx, or gone from it."""

from deis_router_agent.domain import pages


async def served_by(edge, host, name, path="/"):
    response = await edge.get(host, path)
    return response.status_code == 200 and response.json()["name"] == name


async def test_an_app_is_served_on_its_default_domain_and_gone_when_deleted(edge, upstreams, until):
    web = upstreams("web-1")
    await edge.route("blog")
    await edge.serve("blog", web.port)
    await until(lambda: served_by(edge, "blog.localhost", "web-1"))

    await edge.forget("blog")

    async def gone():
        return (await edge.get("blog.localhost")).status_code == 404

    await until(gone)


async def test_unknown_hosts_get_a_404_that_names_no_app(edge, upstreams, until):
    web = upstreams("web")
    await edge.route("shop")
    await edge.serve("shop", web.port)
    await until(lambda: served_by(edge, "shop.localhost", "web"))
    await edge.settled()

    for host in ("nope.localhost", "shop.example.com", "127.0.0.1", "shop.localhost.evil"):
        response = await edge.get(host)
        assert response.status_code == 404
        assert response.text == pages.NOT_FOUND
        assert "shop" not in response.text


async def test_custom_domains_labels_and_wildcards_come_and_go(edge, upstreams, until):
    web = upstreams("web")
    await edge.route("site", domains=["www.example.com", "*.example.org", "site-alias"])
    await edge.serve("site", web.port)
    for host in ("site.localhost", "www.example.com", "a.example.org", "site-alias.localhost"):
        await until(lambda host=host: served_by(edge, host, "web"))

    await edge.route("site", domains=["*.example.org"])

    async def only_wildcard_left():
        return (await edge.get("www.example.com")).status_code == 404

    await until(only_wildcard_left)
    await edge.settled()
    assert (await edge.get("site-alias.localhost")).status_code == 404
    assert await served_by(edge, "b.example.org", "web")


async def test_new_endpoints_move_traffic_and_none_answers_503(edge, upstreams, until):
    v1, v2 = upstreams("v1"), upstreams("v2")
    await edge.route("api")
    await edge.serve("api", v1.port, version=1)
    await until(lambda: served_by(edge, "api.localhost", "v1"))

    await edge.serve("api", v2.port, version=2)
    await until(lambda: served_by(edge, "api.localhost", "v2"))

    await edge.serve("api", version=3)

    async def unavailable():
        response = await edge.get("api.localhost")
        return response.status_code == 503 and response.text == pages.UNAVAILABLE

    await until(unavailable)


async def test_maintenance_serves_503_and_unroutable_apps_are_not_served(edge, upstreams, until):
    web = upstreams("web")
    await edge.route("news", maintenance=True)
    await edge.serve("news", web.port)

    async def maintenance():
        response = await edge.get("news.localhost")
        return response.status_code == 503 and response.text == pages.MAINTENANCE

    await until(maintenance)
    await edge.route("news", routable=False)

    async def not_served():
        return (await edge.get("news.localhost")).status_code == 404

    await until(not_served)
    await edge.route("news")
    await until(lambda: served_by(edge, "news.localhost", "web"))


async def test_the_whitelist_allows_and_denies_by_client_address(edge, upstreams, until):
    web = upstreams("web")
    await edge.route("intra", whitelist=["10.0.0.0/8", "::1"])
    await edge.serve("intra", web.port)

    async def denied():
        return (await edge.get("intra.localhost")).status_code == 403

    await until(denied)
    await edge.route("intra", whitelist=["10.0.0.0/8", "127.0.0.1"])
    await until(lambda: served_by(edge, "intra.localhost", "web"))
    # The whitelist comes before the maintenance page too.
    await edge.route("intra", whitelist=["10.0.0.0/8"], maintenance=True)
    await until(denied)


async def test_requests_carry_forwarding_headers_and_responses_are_gzipped(edge, upstreams, until):
    web = upstreams("web")
    await edge.route("hdrs")
    await edge.serve("hdrs", web.port)
    await until(lambda: served_by(edge, "hdrs.localhost", "web"))
    await edge.settled()

    response = await edge.get("hdrs.localhost", "/echo", headers={"X-Forwarded-For": "1.2.3.4"})
    headers = {k.lower(): v for k, v in response.json()["headers"].items()}
    assert headers["host"] == "hdrs.localhost"
    assert headers["x-forwarded-for"] == "1.2.3.4, 127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-port"] == str(edge.http_port)
    assert len(headers["x-request-id"]) == 32

    big = await edge.get("hdrs.localhost", "/big", headers={"Accept-Encoding": "gzip"})
    assert big.headers["content-encoding"] == "gzip"
    assert big.content == b"x" * 200_000  # decoded by httpx
