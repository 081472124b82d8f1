"""auctions.feed: one subscription per round shared by its streams, frames in order, batched per flush, a reader
that falls behind dropped, the feed gone with its last reader. On Litestar's in-memory channels backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from auctions import feed, live

pytestmark = pytest.mark.unit


@pytest.fixture
async def channels(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[object]:
    monkeypatch.setenv("COLLATERAL_SSE_BATCH_MS", "40")
    plugin = live.build_channels(None)
    await plugin._on_startup()
    try:
        yield plugin
    finally:
        await plugin._on_shutdown()


def bid(bid_id: int) -> dict[str, object]:
    return {"event": "bid", "id": bid_id, "amount": f"{bid_id}.00"}


async def take(stream: AsyncIterator[bytes], count: int) -> list[bytes]:
    return [await asyncio.wait_for(anext(stream), 5) for _ in range(count)]


async def test_readers_share_one_subscription_and_get_every_frame_in_order(channels) -> None:
    subscribed = 0
    real = channels.start_subscription

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal subscribed
        subscribed += 1
        return real(*args, **kwargs)

    channels.start_subscription = counting
    async with feed.reading(channels, 7) as (first, cursor_a), feed.reading(channels, 7) as (second, cursor_b):
        assert first is second and subscribed == 1
        a = feed.frames(first, cursor_a, 0, keepalive=10)
        b = feed.frames(second, cursor_b, 0, keepalive=10)
        for n in range(1, 31):
            channels.publish(live.published(bid(n)), [live.channel(7)])
        chunks_a, chunks_b = [], []
        while sum(c.count(b"event: bid") for c in chunks_a) < 30:
            chunks_a += await take(a, 1)
        while sum(c.count(b"event: bid") for c in chunks_b) < 30:
            chunks_b += await take(b, 1)
        for chunks in (chunks_a, chunks_b):
            ids = [int(line[4:]) for chunk in chunks for line in chunk.split(b"\r\n") if line.startswith(b"id: ")]
            assert ids == list(range(1, 31))
            # Thirty bids published at once reach a reader in a chunk or two, not thirty writes.
            assert len(chunks) <= 2
    assert feed._feeds == {}  # the last reader left: the feed and its subscription are gone


async def test_bids_already_replayed_are_left_out_and_other_events_kept(channels) -> None:
    async with feed.reading(channels, 8) as (round_feed, cursor):
        stream = feed.frames(round_feed, cursor, sent=2, keepalive=10)
        for event in (bid(1), bid(2), {"event": "status", "status": "closed"}, bid(3)):
            channels.publish(live.published(event), [live.channel(8)])
        (chunk,) = await take(stream, 1)
        assert chunk.count(b"event: bid") == 1 and b"id: 3\r\n" in chunk
        assert b"event: status" in chunk


async def test_a_quiet_feed_sends_keepalives(channels) -> None:
    async with feed.reading(channels, 9) as (round_feed, cursor):
        stream = feed.frames(round_feed, cursor, 0, keepalive=0.05)
        assert await take(stream, 2) == [live.KEEPALIVE, live.KEEPALIVE]


async def test_a_reader_too_far_behind_loses_its_stream(channels) -> None:
    async with feed.reading(channels, 10) as (round_feed, cursor):
        round_feed.backlog = 5
        stream = feed.frames(round_feed, cursor, 0, keepalive=10)
        for n in range(1, 8):
            channels.publish(live.published(bid(n)), [live.channel(10)])
        async with asyncio.timeout(5):
            while round_feed.end < 7:
                await round_feed.flushed.wait()
        with pytest.raises(feed.FeedLost):
            await take(stream, 1)
