"""What a failed converge does next: `errors.retry_delay`."""

from deis_scheduler import errors
from deis_shared.bus import errors as bus_errors
from deis_shared.objectstore import errors as store_errors


def test_a_permanent_failure_is_not_retried():
    for error in (errors.CannotRun("web.1 could not start"), errors.RolloutFailed("exited")):
        assert errors.retry_delay(error, failures=1) is None


def test_transient_and_unclassified_failures_back_off_to_a_minute():
    for error in (bus_errors.BusUnavailable("away"), OSError("disk full"), KeyError("bug")):
        delays = [errors.retry_delay(error, failures=n) for n in (1, 2, 3, 7, 8, 100_000)]
        assert delays == [1.0, 2.0, 4.0, 60.0, 60.0, 60.0]


def test_a_transient_failure_may_say_when_to_retry():
    error = store_errors.ObjectStoreUnavailable("throttled", retry_after=5.0)
    assert errors.retry_delay(error, failures=3) == 5.0
    assert errors.retry_delay(bus_errors.BusUnavailable("x", retry_after=600), failures=1) == 60.0
