"""Operations on a stream's contents: whether it is there, and purging one subject of it.

The streams themselves are made by `topology`; these are what services do with them.
"""

import nats.errors
import nats.js

from deis_shared.bus import errors


async def check_stream(js: nats.js.JetStreamContext, name: str) -> None:
    """Return once the server answers that stream `name` exists.

    Raises:
        ServerRejected: The stream does not exist.
        BusUnavailable: The server did not answer.
    """
    try:
        await js.stream_info(name)
    except (nats.errors.Error, TimeoutError, OSError) as exc:
        raise errors.translate(exc, context=f"read stream {name}") from exc


async def purge_subject(js: nats.js.JetStreamContext, stream: str, *, subject: str) -> None:
    """Remove every message of `subject` from `stream`.

    Raises:
        ServerRejected: The stream does not exist or refused.
        BusUnavailable: The server did not answer.
    """
    try:
        await js.purge_stream(stream, subject=subject)
    except (nats.errors.Error, TimeoutError, OSError) as exc:
        raise errors.translate(exc, context=f"purge {subject} from {stream}") from exc
