"""The WebSocket hub's numbering, replay buffer and slow-client handling."""

from __future__ import annotations

import asyncio
import json

from console.messages import HubMessage
from console.sinks.hub import Hub


def test_messages_are_numbered_and_replayed_after_since() -> None:
    hub = Hub(buffer_size=5)
    hub.publish([HubMessage("event", {"id": str(i)}) for i in range(8)])
    assert hub.seq == 8
    replay = hub.replay(5, hub.stream)
    assert replay is not None
    assert [json.loads(t)["seq"] for t in replay] == [6, 7, 8]
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
