"""The WebSocket hub's numbering, replay buffer and slow-client handling."""

from __future__ import annotations

import asyncio
import json

from console.messages import HubMessage
from console.sinks.hub import Hub, dumps, numbered_text


def test_messages_are_numbered_and_replayed_after_since() -> None:
    hub = Hub(buffer_size=5)
    hub.publish([HubMessage("event", {"id": str(i)}) for i in range(8)])
    assert hub.seq == 8
    replay = hub.replay(5, hub.stream)
    assert replay is not None
    assert [(seq, json.loads(t)["seq"]) for seq, t in replay] == [(6, 6), (7, 7), (8, 8)]
    assert hub.replay(8, hub.stream) == []
    assert hub.replay(2, hub.stream) is None, "older than the buffer: a snapshot is needed"
    assert hub.replay(3, hub.stream) is not None
    assert hub.replay(9, hub.stream) is None, "a seq from the future (another server life)"
    assert hub.replay(6, "other-stream") is None


def test_a_client_that_falls_behind_is_cut_off_not_the_others() -> None:
    async def scenario() -> None:
        hub = Hub(client_queue=3)
        slow, fast = hub.subscribe(), hub.subscribe()
        hub.publish([HubMessage("event", {"n": 1}), HubMessage("event", {"n": 2})])
        for _ in range(2):
            await fast.queue.get()
        hub.publish([HubMessage("event", {"n": i}) for i in range(3, 5)])
        assert slow.overflowed and await slow.queue.get() is None
        assert not fast.overflowed and fast.queue.qsize() == 2

    asyncio.run(scenario())


def test_changes_numbered_by_the_cluster_keep_their_numbers_and_come_once() -> None:
    async def scenario() -> None:
        hub = Hub(buffer_size=10)
        hub.seq = 40  # where the cluster's numbering stood when this instance started
        client = hub.subscribe()
        def stored(seq: int, type_: str, data: dict[str, object]) -> tuple[int, HubMessage, str]:
            return seq, HubMessage(type_, data), numbered_text(seq, dumps({"type": type_, "data": data}))

        hub.publish_numbered([stored(41, "alarm.raised", {"id": 1}), stored(43, "alarm.acked", {"id": 1})])
        # Read again after a reconnect of the relay: nothing twice.
        hub.publish_numbered([stored(43, "alarm.acked", {"id": 1}), stored(44, "event", {"id": "e"})])
        got = [json.loads((client.queue.get_nowait() or (0, ""))[1]) for _ in range(client.queue.qsize())]
        assert [(m["seq"], m["type"]) for m in got] == [(41, "alarm.raised"), (43, "alarm.acked"), (44, "event")]
        assert hub.seq == 44
        replay = hub.replay(41, hub.stream)
        assert replay is not None and [json.loads(t)["seq"] for _, t in replay] == [43, 44], "a gap in ids is no gap"
        assert hub.replay(39, hub.stream) is None, "from before this instance: the store has it, not the buffer"

    asyncio.run(scenario())
