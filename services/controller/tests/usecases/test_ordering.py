"""How ACME failures read and what they ask: the problem shown, `Retry-After`, a dead order.

Pebble enforces no rate limits, so a `rateLimited` problem is built here as the library would
parse it from Let's Encrypt's answer.
"""

from acme import messages

from deis_controller.usecases import ordering


def conversation() -> ordering.Conversation:
    return ordering.Conversation(
        directory="https://acme.invalid/dir",
        account_key=ordering.new_account_key(),
        account_uri=None,
        ca_bundle=None,
        email=None,
        timeout=5,
    )


def test_a_rate_limit_carries_its_problem_and_retry_after():
    talk = conversation()
    talk._net = ordering._Network()
    talk._net.retry_after = "3600"
    problem = messages.Error(  # type: ignore[call-arg]  # josepy fields
        typ="urn:ietf:params:acme:error:rateLimited",
        detail="too many certificates (5) already issued for this exact set of domains",
    )
    failed = talk._fail(problem)
    assert str(failed) == (
        "rateLimited: too many certificates (5) already issued for this exact set of domains"
    )
    assert failed.retry_after == 3600
    assert not failed.dead


def test_retry_after_may_be_a_date():
    assert ordering._seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0
    assert ordering._seconds(None) is None
    assert ordering._seconds("soon") is None
