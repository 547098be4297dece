"""What the reply subject of a message a JetStream consumer delivered says (`$JS.ACK....`).

Parsed here because nats-py's `Msg.metadata` costs about as much as rendering a log line, and
readers of `LOGS` handle tens of thousands of lines a second.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from nats.aio.msg import Msg


@dataclass(frozen=True, slots=True)
class Delivery:
    """The delivery facts of one message."""

    stream_seq: int
    """Its sequence in the stream."""
    consumer_seq: int
    """Its delivery sequence in the consumer (redeliveries count too)."""
    delivered: int
    """How many times it has been delivered, this time included."""
    num_pending: int
    """Messages the consumer still had to deliver after it."""
    stored_ns: int
    """When the stream stored it, in nanoseconds since the epoch."""

    @classmethod
    def of(cls, msg: Msg) -> "Delivery":
        """Read the delivery facts of `msg`.

        Args:
            msg: A message a JetStream consumer delivered (its reply subject is the ack subject).

        Returns:
            The facts.

        Raises:
            NotJSMsgError: `msg` was not delivered by a JetStream consumer.
        """
        tokens = msg.reply.split(".")
        # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ns>.<pending>, or the newer
        # form with a domain and an account hash after ACK (and maybe a random token at the end).
        if tokens[:2] == ["$JS", "ACK"] and len(tokens) in (9, 11, 12):
            offset = 0 if len(tokens) == 9 else 2
            delivered, sseq, cseq, ns, pending = tokens[4 + offset : 9 + offset]
            return cls(int(sseq), int(cseq), int(delivered), int(pending), int(ns))
        meta = msg.metadata
        return cls(
            stream_seq=meta.sequence.stream,
            consumer_seq=meta.sequence.consumer,
            delivered=meta.num_delivered or 1,
            num_pending=meta.num_pending,
            stored_ns=int(meta.timestamp.timestamp() * 1e9),
        )

    def stored(self) -> datetime:
        """When the stream stored the message.

        Returns:
            A timezone-aware UTC time.
        """
        return datetime.fromtimestamp(self.stored_ns / 1e9, UTC)
