"""The object store's error tree encodes the retry policy callers act on."""

import botocore.exceptions
import pytest

from deis_shared import errors as deis_errors
from deis_shared.objectstore import errors, s3_exceptions


def test_tree_encodes_retry_policy() -> None:
    assert issubclass(errors.ObjectStoreError, deis_errors.DeisError)
    assert issubclass(errors.ObjectNotFound, errors.ObjectStoreError)
    assert issubclass(errors.ObjectNotFound, deis_errors.PermanentError)
    assert issubclass(errors.InvalidKey, errors.ObjectStoreError)
    assert issubclass(errors.InvalidKey, deis_errors.PermanentError)
    assert issubclass(errors.ObjectStoreUnavailable, errors.ObjectStoreError)
    assert issubclass(errors.ObjectStoreUnavailable, deis_errors.TransientError)
    assert not issubclass(errors.ObjectStoreUnavailable, deis_errors.PermanentError)
    assert errors.ObjectStoreUnavailable("down", retry_after=2.0).retry_after == 2.0
    assert errors.ObjectNotFound("a/b").key == "a/b"


def client_error(code: str, status: int) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},  # type: ignore[typeddict-item]
        "GetObject",
    )


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (client_error("NoSuchKey", 404), errors.ObjectNotFound),
        (client_error("404", 404), errors.ObjectNotFound),
        (client_error("SlowDown", 503), errors.ObjectStoreUnavailable),
        (client_error("InternalError", 500), errors.ObjectStoreUnavailable),
        (client_error("Whatever", 502), errors.ObjectStoreUnavailable),
        (client_error("AccessDenied", 403), errors.ObjectStoreError),
        (
            botocore.exceptions.EndpointConnectionError(endpoint_url="http://x"),
            errors.ObjectStoreUnavailable,
        ),
        (
            botocore.exceptions.ConnectTimeoutError(endpoint_url="http://x"),
            errors.ObjectStoreUnavailable,
        ),
        (TimeoutError(), errors.ObjectStoreUnavailable),
        (botocore.exceptions.NoCredentialsError(), errors.ObjectStoreError),
    ],
)
def test_botocore_errors_are_mapped_and_chained(
    raised: BaseException, expected: type[errors.ObjectStoreError]
) -> None:
    with (
        pytest.raises(errors.ObjectStoreError) as caught,
        s3_exceptions.mapping_s3_errors("slugs/a"),
    ):
        raise raised
    assert type(caught.value) is expected
    assert caught.value.__cause__ is raised


def test_unrelated_errors_pass_through() -> None:
    with pytest.raises(KeyError), s3_exceptions.mapping_s3_errors("slugs/a"):
        raise KeyError("ours")
