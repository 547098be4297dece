# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""nginx's request counters: the configuration lines, the line format read back, and the
deltas taken from one reading to the next (restarts and evictions included)."""

import logging
from pathlib import Path

import pytest

from deis_router_agent.domain import hosting, metering, skeleton
from deis_router_agent.domain.options import Options, Paths, Upstream
from deis_shared.events import metrics as metrics_events


def reading(epoch, lines):
    parsed = metering.parse(f"@epoch {epoch}\n" + "".join(f"{line}\n" for line in lines))
    assert parsed is not None
    return parsed


def test_lines_parse_into_counters_per_app():
    parsed = reading("17.5", ["web 2xx 3", "web b1 2", "web b12 1", "web ms 9001", "api 5xx 1"])
    assert parsed.epoch == "17.5"
    assert parsed.apps == {
        "web": {"2xx": 3, "b1": 2, "b12": 1, "ms": 9001},
        "api": {"5xx": 1},
    }


def test_an_empty_reading_has_no_apps():
    assert metering.parse("@epoch 1.000\n") == metering.Reading(epoch="1.000", apps={})


@pytest.mark.parametrize(
    "text",
    ["", "web 2xx 3\n", "@epoch\n", "@epoch 1 2\n", "epoch 1\nweb 2xx 1\n", "<html>oops"],
)
def test_a_reading_without_its_epoch_line_is_ignored_with_a_log(text, caplog):
    with caplog.at_level(logging.WARNING):
        assert metering.parse(text) is None
    assert "no epoch line" in caplog.text


@pytest.mark.parametrize(
    "line",
    [
        "Web 2xx 1",  # not an app name
        "-web 2xx 1",
        "web- 2xx 1",
        "a" * 64 + " 2xx 1",
        "we$b 2xx 1",
        "web 6xx 1",  # not a counter
        "web b0 1",
        "web b13 1",
        "web 2xx -1",  # not a count
        "web 2xx 1.5",
        "web 2xx ²",
        "web 2xx 1e3",
        "web 2xx " + "9" * 21,
        "web 2xx",  # not three fields
        "web  2xx 1",
        "web 2xx 1 extra",
        "",
    ],
)
def test_a_malformed_line_is_skipped_with_a_log_and_the_rest_kept(line, caplog):
    with caplog.at_level(logging.WARNING):
        parsed = reading("1", ["api 2xx 4", line])
    assert parsed.apps == {"api": {"2xx": 4}}
    assert "malformed counter lines" in caplog.text


def usage(requests=None, **counters):
    return metering.Usage.of({**(requests or {}), **counters})


def test_the_first_reading_counts_whole_and_the_next_only_what_changed():
    counters = metering.Counters()
    first = counters.advance(reading("1", ["web 2xx 3", "web b1 3", "web bytes 300"]))
    assert first["web"].requests == {"2xx": 3}
    assert first["web"].latency == [3] + [0] * 11
    assert first["web"].response_bytes == 300
    second = counters.advance(
        reading("1", ["web 2xx 5", "web 4xx 1", "web b1 4", "web b2 2", "web bytes 500"])
    )
    assert second["web"].requests == {"2xx": 2, "4xx": 1}
    assert second["web"].latency == [1, 2] + [0] * 10
    assert second["web"].response_bytes == 200
    assert counters.advance(reading("1", ["web 2xx 5", "web bytes 500"])) == {}  # nothing new


def test_a_new_epoch_counts_the_new_values_whole():
    counters = metering.Counters()
    counters.advance(reading("1", ["web 2xx 4"]))
    after = counters.advance(reading("2", ["web 2xx 6"]))  # a restarted nginx counted 6
    assert after["web"].requests == {"2xx": 6}
    assert counters.advance(reading("2", ["web 2xx 7"]))["web"].requests == {"2xx": 1}


def test_a_counter_that_went_down_counts_its_new_value_and_none_is_negative():
    counters = metering.Counters()
    counters.advance(reading("1", ["web 2xx 9", "web 5xx 2"]))
    after = counters.advance(reading("1", ["web 2xx 3", "web 5xx 2"]))  # 2xx was evicted
    assert after["web"].requests == {"2xx": 3}


def test_a_missing_line_keeps_its_last_value():
    counters = metering.Counters()
    counters.advance(reading("1", ["web 2xx 5", "api 2xx 1"]))
    assert counters.advance(reading("1", ["api 2xx 2"]))["api"].requests == {"2xx": 1}
    assert counters.advance(reading("1", ["web 2xx 6"]))["web"].requests == {"2xx": 1}


def test_usage_adds_up():
    total = metering.Usage()
    total.add(usage({"2xx": 2}, bytes=10, ms=5, b3=2))
    total.add(usage({"2xx": 1, "5xx": 1}, bytes=1, ms=1, b12=2))
    assert total.requests == {"2xx": 3, "5xx": 1}
    assert (total.response_bytes, total.milliseconds, total.total) == (11, 6, 4)
    assert total.latency == [0, 0, 2] + [0] * 8 + [2]


def test_the_configuration_names_the_module_and_every_bound():
    # The app is the one the route table found for the request (`hosting`): no name in the
    # configuration, and none of a request's own text.
    assert metering.server_line() == (
        'log_by_lua_block { require("deis_metrics").record(ngx.var.deis_app) }'
    )
    assert metering.init_code() == (
        'require("deis_metrics").configure({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, '
        "2.5, 5.0, 10.0})"
    )
    assert len(metrics_events.LATENCY_BUCKETS) + 1 == metering.BUCKETS
    assert metering.http_lines(megabytes=10) == ["lua_shared_dict deis_metrics 10m;"]


def servers(text):
    """Every `server { }` block of `text`, as the list of its inner lines (stripped)."""
    found, lines = [], text.splitlines()
    for start, line in enumerate(lines):
        if line.strip() == "server {":
            depth, block = 0, []
            for inner in lines[start:]:
                block.append(inner.strip())
                depth += inner.count("{") - inner.count("}")
                if depth == 0:
                    break
            found.append(block[1:-1])
    return found


def test_every_catch_all_server_counts_and_the_main_file_reads_the_counters():
    paths = Paths(
        pid=Path("/d/nginx.pid"),
        logs=Path("/d/logs"),
        temp=Path("/d/temp"),
        tls=Path("/d/tls"),
        lua=Path("/d/lua"),
        balancer_socket=Path("/d/run/b.sock"),
    )
    options = Options(
        paths=paths,
        platform_domain="deis.test",
        listen_address="",
        http_port=8080,
        https_port=8443,
        https_redirect_port=443,
        status_port=9999,
        worker_user=None,
        metrics_memory=7,
        controller=Upstream(host="10.0.0.5", port=8000),
    )
    plain, refusing, secure = servers("\n".join(hosting.server_lines(options, upstream="up")))
    for block in (plain, secure):  # every app's requests: HTTP, and HTTPS
        assert block.count(metering.server_line()) == 1
        assert block.count('set $deis_app "";') == 1  # an unknown host counts for no app
    assert "ssl_reject_handshake on;" in refusing  # no request is ever served there
    assert metering.server_line() not in refusing
    main = skeleton.render_main(options=options, revision=1)
    assert "lua_shared_dict deis_metrics 7m;" in main
    assert metering.init_code() in main
    assert metering.socket_lines()[0] in main
    # The catch-all servers only: neither the status server nor the controller's count.
    assert main.count("record(") == 2
    assert main.count(metering.server_line()) == 2
