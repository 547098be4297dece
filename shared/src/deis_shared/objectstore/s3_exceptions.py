"""The S3 boundary: botocore and aiohttp exceptions mapped onto the `errors` tree.

Only `s3` calls into aiobotocore, and it wraps every request in `mapping_s3_errors`, so no
botocore exception leaves the object store. Missing keys become `ObjectNotFound`; refused
connections, timeouts, 5xx and throttling become `ObjectStoreUnavailable` (retry later);
anything else (credentials, access denied, bad parameters) becomes a plain `ObjectStoreError`.
"""

import contextlib
from collections.abc import Iterator

import aiohttp
import botocore.exceptions

from deis_shared.objectstore import errors

NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404"})
MISSING_BUCKET_CODES = frozenset({"NoSuchBucket", "NotFound", "404"})
UNAVAILABLE_CODES = frozenset(
    {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling"}
)
NETWORK_ERRORS = (
    botocore.exceptions.ConnectionError,  # refused, connect timeout, proxy errors
    botocore.exceptions.HTTPClientError,  # read timeout, connection closed mid-response
    aiohttp.ClientError,  # raised while streaming a body
    TimeoutError,
)


def code_of(exc: botocore.exceptions.ClientError) -> str:
    """Return the S3 error code of `exc` (`NoSuchKey`, `404`, ...), or an empty string."""
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextlib.contextmanager
def mapping_s3_errors(key: str) -> Iterator[None]:
    """Translate botocore/aiohttp failures about `key` into the `errors` tree.

    Args:
        key: the key (or bucket, or prefix) the wrapped request is about, for messages.

    Raises:
        ObjectNotFound: S3 has no such key.
        ObjectStoreUnavailable: the endpoint is unreachable, slow, failing or throttling.
        ObjectStoreError: any other botocore failure.
    """
    try:
        yield
    except botocore.exceptions.ClientError as exc:
        code = code_of(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        if code in NOT_FOUND_CODES:
            raise errors.ObjectNotFound(key) from exc
        if code in UNAVAILABLE_CODES or status >= 500:
            raise errors.ObjectStoreUnavailable(f"S3 failed on {key!r}: {code}") from exc
        raise errors.ObjectStoreError(f"S3 refused {key!r}: {code} {exc}") from exc
    except NETWORK_ERRORS as exc:
        raise errors.ObjectStoreUnavailable(f"S3 unreachable: {exc}") from exc
    except botocore.exceptions.BotoCoreError as exc:  # credentials, parameters, checksums
        raise errors.ObjectStoreError(f"S3 failed on {key!r}: {exc}") from exc
