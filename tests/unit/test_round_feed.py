"""auctions.feed: one subscription per round shared by its streams, frames in order, batched per flush, bids
published out of turn put back in commit order from the table, a reader that falls behind dropped, the feed gone
with its last reader. On Litestar's in-memory channels backend, with a list standing for the bids table."""

from __future__ import annotations

import asyncio
import contextlib
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


class Table:
    """The round's accepted bids as committed, in id order; every bid here is committed."""

    def __init__(self, committed: list[int] | None = None) -> None:
        self.committed = committed or []
        self.replays: list[int] = []

    async def position(self) -> tuple[int, int]:
        return len(self.committed), max(self.committed, default=0)

    async def replay(self, after: int) -> list[dict[str, object]]:
        self.replays.append(after)
        return [bid(n) for n in self.committed if n > after]


def reading(channels, round_id: int, table: Table | None = None):  # type: ignore[no-untyped-def]
    table = table or Table()
    return feed.reading(channels, round_id, table.position, table.replay)


def send(channels, round_id: int, bid_id: int, seq: int) -> None:  # type: ignore[no-untyped-def]
    channels.publish(live.published(bid(bid_id), seq), [live.channel(round_id)])


def ids_in(chunks: list[bytes]) -> list[int]:
    return [int(line[4:]) for chunk in chunks for line in chunk.split(b"\r\n") if line.startswith(b"id: ")]


class Listener:
    """A stream served by the feed into a queue, as uvicorn's `send` would write it to the socket."""

    def __init__(self, round_feed: feed.RoundFeed, cursor: int, sent: int = 0, keepalive: float = 10) -> None:
        self.chunks: asyncio.Queue[bytes] = asyncio.Queue()

        async def send(message: dict[str, object]) -> None:
            self.chunks.put_nowait(message["body"])  # type: ignore[arg-type]

        self.serving = asyncio.get_running_loop().create_task(round_feed.serve(send, cursor, sent, keepalive))

    async def take(self, count: int) -> list[bytes]:
        return [await asyncio.wait_for(self.chunks.get(), 5) for _ in range(count)]

    async def stop(self) -> None:
        self.serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.serving


async def test_readers_share_one_subscription_and_get_every_frame_in_order(channels) -> None:
    subscribed = 0
    real = channels.start_subscription

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal subscribed
        subscribed += 1
        return real(*args, **kwargs)

    channels.start_subscription = counting
    async with reading(channels, 7) as (first, cursor_a), reading(channels, 7) as (second, cursor_b):
        assert first is second and subscribed == 1
        a, b = Listener(first, cursor_a), Listener(second, cursor_b)
        for n in range(1, 31):
            send(channels, 7, n, n)
        chunks_a, chunks_b = [], []
        while sum(c.count(b"event: bid") for c in chunks_a) < 30:
            chunks_a += await a.take(1)
        while sum(c.count(b"event: bid") for c in chunks_b) < 30:
            chunks_b += await b.take(1)
        for chunks in (chunks_a, chunks_b):
            assert ids_in(chunks) == list(range(1, 31))
            # Thirty bids published at once reach a reader in a chunk or two, not thirty writes.
            assert len(chunks) <= 2
        await a.stop()
        await b.stop()
        assert first.streams == set()  # a stream whose client left is no longer written to
    assert feed._feeds == {}  # the last reader left: the feed and its subscription are gone


async def test_bids_already_replayed_are_left_out_and_other_events_kept(channels) -> None:
    async with reading(channels, 8) as (round_feed, cursor):
        stream = Listener(round_feed, cursor, sent=2)
        for event, seq in ((bid(1), 1), (bid(2), 2), ({"event": "status", "status": "closed"}, 0), (bid(3), 3)):
            channels.publish(live.published(event, seq), [live.channel(8)])
        (chunk,) = await stream.take(1)
        assert chunk.count(b"event: bid") == 1 and b"id: 3\r\n" in chunk
        assert b"event: status" in chunk
        await stream.stop()


async def test_a_quiet_feed_sends_keepalives(channels) -> None:
    async with reading(channels, 9) as (round_feed, cursor):
        stream = Listener(round_feed, cursor, keepalive=0.05)
        assert await stream.take(2) == [live.KEEPALIVE, live.KEEPALIVE]
        await stream.stop()


async def test_a_reader_too_far_behind_loses_its_stream(channels) -> None:
    async with reading(channels, 10) as (round_feed, cursor):
        round_feed.backlog = 5
        # The client stopped reading: its first write waits for a socket that never drains.
        stuck = asyncio.Event()

        async def stalled(message: dict[str, object]) -> None:
            await stuck.wait()

        serving = asyncio.get_running_loop().create_task(round_feed.serve(stalled, cursor, 0, 10))
        others = Listener(round_feed, cursor)
        for n in range(1, 8):
            send(channels, 10, n, n)
            await asyncio.sleep(0.06)  # a flush each
        # The others had every bid meanwhile: the stuck stream held nobody up.
        got: list[bytes] = []
        while len(ids_in(got)) < 7:
            got += await others.take(1)
        assert ids_in(got) == list(range(1, 8))
        stuck.set()  # its write goes through; it is now more than `backlog` frames behind: its stream ends
        await asyncio.wait_for(serving, 5)
        await others.stop()


async def test_a_slow_stream_gets_what_came_while_it_waited_once_its_write_is_through(channels) -> None:
    async with reading(channels, 12) as (round_feed, cursor):
        drained, all_there = asyncio.Event(), asyncio.Event()
        written: list[bytes] = []

        async def slow(message: dict[str, object]) -> None:
            if not written:
                await drained.wait()  # the first write waits for the socket to drain
            written.append(message["body"])  # type: ignore[arg-type]
            if len(ids_in(written)) == 3:
                all_there.set()

        serving = asyncio.get_running_loop().create_task(round_feed.serve(slow, cursor, 0, 10))
        send(channels, 12, 1, 1)
        await asyncio.sleep(0.1)
        send(channels, 12, 2, 2)  # published while the first write waits: not written meanwhile
        send(channels, 12, 3, 3)
        await asyncio.sleep(0.1)
        assert written == []
        drained.set()
        await asyncio.wait_for(all_there.wait(), 5)
        assert ids_in(written) == [1, 2, 3] and len(written) == 2  # then the rest at once, in order
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving


async def test_bids_published_out_of_turn_come_out_in_commit_order_without_loss(channels) -> None:
    # Bids 1 and 2 were committed before the feed started; 5, 9 and 12 after it. Two workers published 9 (seq 4)
    # before 5 (seq 3), and 12 (seq 5) came in its turn.
    table = Table([1, 2])
    async with reading(channels, 11, table) as (round_feed, cursor):
        assert (round_feed.last_seq, round_feed.last_bid) == (2, 2)
        table.committed += [5, 9, 12]
        stream = Listener(round_feed, cursor)
        send(channels, 11, 9, 4)  # out of turn: the feed reads 5, 9 and 12 from the table
        send(channels, 11, 5, 3)  # the straggler: already read, dropped
        send(channels, 11, 12, 5)  # already read too
        chunks = []
        while len(ids_in(chunks)) < 3:
            chunks += await stream.take(1)
        assert ids_in(chunks) == [5, 9, 12]
        assert table.replays == [2]
        table.committed.append(13)
        send(channels, 11, 13, 6)  # in turn again: no read
        assert ids_in(await stream.take(1)) == [13]
        assert table.replays == [2]
        await stream.stop()


async def test_streams_at_one_cursor_share_a_chunk_but_not_bids_one_of_them_had(channels) -> None:
    async with reading(channels, 13) as (round_feed, cursor):
        fresh, replayed = Listener(round_feed, cursor), Listener(round_feed, cursor, sent=2)
        for n in (1, 2, 3):
            send(channels, 13, n, n)
        (whole,) = await fresh.take(1)
        (rest,) = await replayed.take(1)
        assert (ids_in([whole]), ids_in([rest])) == ([1, 2, 3], [3])
        send(channels, 13, 4, 4)
        assert ids_in(await fresh.take(1)) == ids_in(await replayed.take(1)) == [4]
        await fresh.stop()
        await replayed.stop()


async def test_a_pass_over_many_streams_lets_the_loop_run_between_slices(channels, monkeypatch) -> None:
    monkeypatch.setattr(feed, "FLUSH_SLICE", 2)
    async with reading(channels, 9) as (round_feed, cursor):
        listeners = [Listener(round_feed, cursor) for _ in range(5)]
        await asyncio.sleep(0)  # every stream joined
        await round_feed._take(1, 1, live.sse_frame("bid", "{}", 1))
        round_feed._flush()
        # One slice written before anything else runs; the rest after the loop has had its turn.
        early = [listener for listener in listeners if listener.chunks.qsize()]
        assert len(early) == 2
        # A bid arriving in the middle of the pass: the streams not yet written get it with the first.
        await round_feed._take(2, 2, live.sse_frame("bid", "{}", 2))
        for _ in range(5):
            await asyncio.sleep(0)
        assert [listener.chunks.qsize() for listener in listeners] == [1, 1, 1, 1, 1]
        for listener in listeners:
            if listener not in early:
                assert ids_in([listener.chunks.get_nowait()]) == [1, 2]
        round_feed._flush()
        for _ in range(5):
            await asyncio.sleep(0)
        for listener in early:
            assert ids_in(await listener.take(2)) == [1, 2]
        for listener in listeners:
            assert listener.chunks.empty()
            await listener.stop()
