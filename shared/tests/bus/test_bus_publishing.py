import pydantic
import pytest

from deis_shared.bus import errors, publishing


class Ping(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(populate_by_name=True)
    schema_version: int = pydantic.Field(1, alias="schema")
    text: str


@pytest.fixture
async def stream(bus, unique):
    await bus.js.add_stream(name=unique, subjects=[f"{unique}.>"], duplicate_window=60)
    try:
        yield unique
    finally:
        await bus.js.delete_stream(unique)


async def test_same_msg_id_is_stored_once(bus, stream):
    first = await publishing.publish(bus.js, subject=f"{stream}.a", data=b"x", msg_id="id-1")
    again = await publishing.publish(bus.js, subject=f"{stream}.a", data=b"x", msg_id="id-1")
    assert not first.duplicate
    assert again.duplicate
    info = await bus.js.stream_info(stream)
    assert info.state.messages == 1


async def test_model_is_sent_as_json_by_alias(bus, stream):
    await publishing.publish(
        bus.js, subject=f"{stream}.m", data=Ping(text="hi"), msg_id="m1", headers={"X-A": "b"}
    )
    msg = await bus.js.get_last_msg(stream, f"{stream}.m")
    assert Ping.model_validate_json(msg.data) == Ping(text="hi")
    assert b'"schema":1' in msg.data
    assert msg.headers is not None
    assert msg.headers["X-A"] == "b"
    assert msg.headers["Nats-Msg-Id"] == "m1"


async def test_publish_without_stream_is_unavailable(bus, unique):
    with pytest.raises(errors.BusUnavailable):
        await publishing.publish(bus.js, subject=f"{unique}.nostream", data=b"", msg_id="1")


async def test_publish_many_returns_acks_in_order_and_dedupes(bus, stream):
    messages = [
        publishing.Outgoing(subject=f"{stream}.b", data=f"{i}".encode(), msg_id=f"b{i % 50}")
        for i in range(100)
    ]
    acks = await publishing.publish_many(bus.js, messages=messages, max_in_flight=10)
    assert len(acks) == 100
    assert [a.seq for a in acks[:50]] == list(range(1, 51))
    assert all(a.duplicate for a in acks[50:])
    assert (await bus.js.stream_info(stream)).state.messages == 50


async def test_publish_many_without_stream_fails_typed(bus, unique):
    messages = [publishing.Outgoing(subject=f"{unique}.none", data=b"", msg_id="1")]
    with pytest.raises(errors.BusUnavailable):
        await publishing.publish_many(bus.js, messages=messages)
