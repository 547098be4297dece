"""Who is pushing, and may they: the controller's answers over NATS RPC.

The builder keeps no users. An SSH key's MD5 fingerprint is looked up with the controller's
`key` RPC, and every push or clone is checked with its `authorize` RPC (owner, collaborator or
admin, exact membership). A controller that does not answer refuses the request with a reason
the user can act on, rather than letting anyone in.
"""

from deis_builder.errors import Refused
from deis_shared.bus import connection, errors as bus_errors, requesting
from deis_shared.rpc import controller as controller_rpc

UNAVAILABLE = "the controller is not answering; try again in a moment"


async def key_owner(
    nc: connection.Client,
    *,
    fingerprint: str,
    timeout: float,  # noqa: ASYNC109
) -> str | None:
    """The user who registered the key with this MD5 fingerprint, or `None`.

    Raises:
        Refused: The controller did not answer.
    """
    try:
        reply = await requesting.request(
            nc,
            subject=controller_rpc.KEY_SUBJECT,
            payload=controller_rpc.KeyLookupRequest(fingerprint=fingerprint),
            reply_type=controller_rpc.KeyLookupReply,
            timeout=timeout,
        )
    except bus_errors.BusError as exc:
        raise Refused(UNAVAILABLE) from exc
    return reply.username


async def authorize(
    nc: connection.Client,
    *,
    username: str,
    app: str,
    timeout: float,  # noqa: ASYNC109
) -> None:
    """Return if `username` may push to and clone `app`.

    Raises:
        Refused: Not allowed (the controller's reason), or the controller did not answer.
    """
    try:
        reply = await requesting.request(
            nc,
            subject=controller_rpc.AUTHORIZE_SUBJECT,
            payload=controller_rpc.AuthorizeRequest(username=username, app=app),
            reply_type=controller_rpc.AuthorizeReply,
            timeout=timeout,
        )
    except bus_errors.BusError as exc:
        raise Refused(UNAVAILABLE) from exc
    if not reply.allowed:
        raise Refused(reply.reason or f"{username} may not push to {app}")
