import nats.errors
import nats.js.errors
import pytest

from deis_shared import errors as deis_errors
from deis_shared.bus import errors


@pytest.mark.parametrize(
    ("exc", "expected", "transient"),
    [
        (nats.errors.TimeoutError(), errors.BusUnavailable, True),
        (nats.errors.NoRespondersError(), errors.NoResponders, True),
        (nats.errors.ConnectionClosedError(), errors.BusUnavailable, True),
        (nats.js.errors.NoStreamResponseError(), errors.BusUnavailable, True),
        (nats.js.errors.ServiceUnavailableError(code=503), errors.BusUnavailable, True),
        (nats.js.errors.BadRequestError(code=400, description="bad"), errors.ServerRejected, False),
    ],
)
def test_translate_maps_nats_errors_to_the_tree(exc, expected, transient):
    mapped = errors.translate(exc, context="doing x")
    assert type(mapped) is expected
    assert isinstance(mapped, deis_errors.TransientError) is transient
    assert isinstance(mapped, deis_errors.PermanentError) is not transient
    assert "doing x" in str(mapped)


def test_remote_error_carries_code_and_message():
    err = errors.RpcRemoteError(code="not_found", message="no such key")
    assert (err.code, err.message) == ("not_found", "no such key")
    assert isinstance(err, deis_errors.PermanentError)
    assert isinstance(err, errors.BusError)
    assert isinstance(errors.RpcTimeout("x"), deis_errors.TransientError)
    assert isinstance(errors.InvalidMessage("x"), deis_errors.PermanentError)
