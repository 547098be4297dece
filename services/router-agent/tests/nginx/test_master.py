# mypy: allow-untyped-defs, allow-untyped-calls, allow-incomplete-defs
"""The nginx master wrapper: idempotent close, also before start."""

import pytest

from deis_router_agent.errors import NginxFailed
from deis_router_agent.nginx.master import MasterState, NginxMaster


def master(tmp_path, binary="nginx"):
    return NginxMaster(
        binary=binary, prefix=tmp_path, conf=tmp_path / "nginx.conf",
        stderr=tmp_path / "stderr", backoff_max=1.0,
    )  # fmt: skip


async def test_close_before_start_and_twice(tmp_path):
    nginx = master(tmp_path)
    await nginx.close()
    await nginx.close()
    assert nginx.state is MasterState.CLOSED
    assert not nginx.reload()
    with pytest.raises(NginxFailed):
        await nginx.start()


async def test_a_missing_binary_fails_to_start(tmp_path):
    nginx = master(tmp_path, binary=str(tmp_path / "no-nginx"))
    with pytest.raises(NginxFailed):
        await nginx.start()
    await nginx.close()
