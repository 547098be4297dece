"""The `kube_api` fixture fails a test whose client sent an invalid object."""

import pytest


# A whole pytest process (with every installed plugin) starts inside: no unit-test budget.
@pytest.mark.timeout(30)
def test_an_invalid_object_fails_the_test_at_teardown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import aiohttp

        async def test_sends_an_invalid_namespace(kube_api):
            async with aiohttp.ClientSession() as session:
                async with session.post(
                    kube_api.url + "/api/v1/namespaces",
                    json={"metadata": {"name": "x"}, "spec": {"bogus": True}},
                ) as response:
                    assert response.status == 422
        """
    )
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    result = pytester.runpytest_subprocess("-p", "deis_testing.plugin")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*invalid object refused: create Namespace x*'bogus'*"])
