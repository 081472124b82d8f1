"""One subscription per round per process, shared by every live stream of that round, written in batches.

A hot round has thousands of watchers and hundreds of bids a second. With a subscription per watcher, each event
costs every watcher a queue hand-off, a task wake and a socket write: on two cores that fan-out alone used the CPU
the bidders needed (bench/README.md, "Hot auction"). Here a round's feed holds the one subscription and keeps the
frames in order, and at most once per `window` (COLLATERAL_SSE_BATCH_MS, 400 ms by default) writes to every stream
of the round, from one task, everything that stream has not had, as one chunk (auctions.fanout: a stream whose
client stopped reading is skipped until its write is through, never waited for). The lag this adds is the window,
well inside the one second watchers get; no task wakes per watcher per batch.

Each worker publishes after its own commit, so two bids committed one after the other can reach the channel in the
other order (or one late). The feed keeps accepted bids in commit order without loss: each carries its place among
the round's accepted bids (`seq`), and when one arrives out of turn the feed reads every accepted bid after the last
it holds from the bids table (all committed: a bid is published only after its commit) and drops the stragglers
when they arrive.

A stream more than `backlog` frames behind (a client that stopped reading) is ended; reconnecting with
Last-Event-ID replays what it missed from the bids table, as after any other disconnect. A stream that had nothing
for `keepalive` seconds gets a comment line, which keeps proxies from closing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from litestar.channels import ChannelsPlugin
from litestar.types import Send

from auctions import live
from auctions.fanout import Writer

BACKLOG = 50_000
# Streams written to before the loop runs other work again (the bids) during a pass.
FLUSH_SLICE = 25
Chunk = tuple[bytes, int, int]  # the frames, and the first and the last bid id in them (or 0)


def batch_window() -> float:
    return float(os.environ.get("COLLATERAL_SSE_BATCH_MS", "400")) / 1000


Position = Callable[[], Awaitable[tuple[int, int]]]  # (accepted bids so far, the last one's id)
Replay = Callable[[int], Awaitable[list[dict[str, Any]]]]  # the accepted bids after an id, as events, by id


@dataclass(eq=False, slots=True)
class Stream:
    """One live stream of the round: how far it has read the feed, the last bid it has, and its writes."""

    writer: Writer
    cursor: int
    sent: int  # the last bid id this stream has had (replayed from the table or live)
    ended: asyncio.Future[None]
    wrote_at: float

    def end(self) -> None:
        if not self.ended.done():
            self.ended.set_result(None)


@dataclass(eq=False)
class RoundFeed:
    channels: ChannelsPlugin
    round_id: int
    window: float
    position: Position
    replay: Replay
    backlog: int = BACKLOG
    last_seq: int = 0
    last_bid: int = 0
    # (bid id or 0, frame) in publication order; frames[0] has sequence number `first`.
    frames: list[tuple[int, bytes]] = field(default_factory=list)
    first: int = 0
    users: int = 0  # streams joined through `reading`, serving or not yet
    streams: set[Stream] = field(default_factory=set)
    keepalive: float = math.inf  # the shortest its streams asked for
    failed: BaseException | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    _flush_due: asyncio.TimerHandle | None = None
    _keepalive_due: asyncio.TimerHandle | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def end(self) -> int:
        return self.first + len(self.frames)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._listen(), name=f"round-feed-{self.round_id}")

    async def stop(self) -> None:
        for timer in (self._flush_due, self._keepalive_due):
            if timer is not None:
                timer.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _listen(self) -> None:
        try:
            async with self.channels.start_subscription([live.channel(self.round_id)]) as subscriber:
                # Subscribed first: a bid committed after this read is on the channel, one before it is counted.
                self.last_seq, self.last_bid = await self.position()
                self.ready.set()
                async for message in subscriber.iter_events():
                    await self._take(*live.read_published(message))
                    if len(self.frames) > 2 * self.backlog:  # keep memory bounded: readers that far behind are lost
                        drop = len(self.frames) - self.backlog
                        del self.frames[:drop]
                        self.first += drop
                    if self._flush_due is None:
                        self._flush_due = asyncio.get_running_loop().call_later(self.window, self._flush)
            self.failed = ConnectionError("the round's subscription ended")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of the subscription ends every stream of the round
            self.failed = exc
        self.ready.set()
        self._flush()

    async def _take(self, bid_id: int, seq: int, frame: bytes) -> None:
        if not bid_id:
            self.frames.append((0, frame))
            return
        if bid_id <= self.last_bid:
            return  # already read from the table when it came late
        if seq != self.last_seq + 1:
            for event in await self.replay(self.last_bid):
                self.frames.append((event["id"], live.sse_frame("bid", json.dumps(event), event["id"])))
                self.last_seq, self.last_bid = self.last_seq + 1, event["id"]
            if bid_id <= self.last_bid:
                return
        self.frames.append((bid_id, frame))
        self.last_seq, self.last_bid = seq, bid_id

    def _flush(self) -> None:
        self._flush_due = None
        # Streams at one cursor that have none of its bids yet (nearly all of them) get the same chunk, made once.
        self._write_some(list(self.streams), 0, {})

    def _write_some(self, streams: list[Stream], start: int, shared: dict[tuple[int, int], Chunk]) -> None:
        """Write to a slice of `streams`, then let the loop run before the next slice: a pass over a thousand
        watchers' sockets takes tens of milliseconds, which every bid waiting on this worker would wait too."""
        end = start + FLUSH_SLICE
        for stream in streams[start:end]:
            self._write(stream, shared)
        if end < len(streams):
            asyncio.get_running_loop().call_soon(self._write_some, streams, end, shared)

    def _write(self, stream: Stream, shared: dict[tuple[int, int], Chunk] | None = None) -> None:
        """Everything `stream` has not had, as one chunk; bids it already has left out."""
        if stream.writer.busy or stream not in self.streams:
            return  # still writing the last chunk: it gets this one with the next
        if self.failed is not None or stream.cursor < self.first or self.end - stream.cursor > self.backlog:
            stream.end()  # the subscription failed, or the reader fell behind: the client reconnects
            return
        # Keyed by the end too: frames that arrive between two slices of a pass make a longer chunk.
        made = None if shared is None else shared.get((stream.cursor, self.end))
        if made is None:
            made = self._chunk(stream.cursor)
            if shared is not None:
                shared[stream.cursor, self.end] = made
        chunk, first_bid, last_bid = made
        if first_bid and first_bid <= stream.sent:  # some of these bids were replayed to it from the table
            chunk, _, last_bid = self._chunk(stream.cursor, stream.sent)
        stream.cursor = self.end
        stream.sent = max(stream.sent, last_bid)
        if chunk:
            stream.writer.write(chunk)
            stream.wrote_at = asyncio.get_running_loop().time()

    def _chunk(self, cursor: int, sent: int = 0) -> Chunk:
        """(the frames from `cursor` on, bids up to `sent` left out; the first and the last bid id in it, or 0)."""
        frames, first_bid, last_bid = [], 0, 0
        for bid_id, frame in self.frames[cursor - self.first :]:
            if bid_id:
                if bid_id <= sent:
                    continue
                first_bid, last_bid = first_bid or bid_id, bid_id
            frames.append(frame)
        return b"".join(frames), first_bid, last_bid

    def _keep_alive(self) -> None:
        loop = asyncio.get_running_loop()
        for stream in self.streams:
            if loop.time() - stream.wrote_at >= self.keepalive / 2 and stream.writer.write(live.KEEPALIVE):
                stream.wrote_at = loop.time()
        self._keepalive_due = loop.call_later(self.keepalive / 2, self._keep_alive)

    async def serve(self, send: Send, cursor: int, sent: int, keepalive: float) -> None:
        """Write the round's frames from `cursor` on to `send` until the stream ends: the feed failed or the reader
        fell behind (the client reconnects). Cancelled when the client goes."""
        loop = asyncio.get_running_loop()
        writer = Writer(send, on_failure=lambda _exc: stream.end(), on_drained=lambda: self._write(stream))
        stream = Stream(writer, cursor, sent, loop.create_future(), loop.time())
        if keepalive < self.keepalive:
            self.keepalive = keepalive
            if self._keepalive_due is not None:
                self._keepalive_due.cancel()
            self._keepalive_due = loop.call_later(keepalive / 2, self._keep_alive)
        self.streams.add(stream)
        try:
            self._write(stream)  # what was published between joining and now
            await stream.ended
        finally:
            self.streams.discard(stream)
            stream.writer.cancel()


# No lock: finding or making a feed, and leaving one, happen between two awaits, so no other task interleaves.
_feeds: dict[tuple[int, int], RoundFeed] = {}


@contextlib.asynccontextmanager
async def reading(
    channels: ChannelsPlugin, round_id: int, position: Position, replay: Replay
) -> AsyncIterator[tuple[RoundFeed, int]]:
    """The round's feed, subscribed before this returns, and the reader's starting cursor (what is published
    from now on). The feed ends when its last reader leaves. `position` and `replay` read the bids table."""
    key = (id(channels), round_id)
    feed = _feeds.get(key)
    if feed is None:
        feed = _feeds[key] = RoundFeed(channels, round_id, batch_window(), position, replay)
        feed.start()
    feed.users += 1
    try:
        await feed.ready.wait()
        yield feed, feed.end
    finally:
        feed.users -= 1
        if feed.users == 0 and _feeds.get(key) is feed:
            del _feeds[key]
            await feed.stop()
