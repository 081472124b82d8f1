"""One subscription per round per process, shared by every live stream of that round, delivering in batches.

A hot round has thousands of watchers and hundreds of bids a second. With a subscription per watcher, each event
costs every watcher a queue hand-off, a task wake and a socket write: on two cores that fan-out alone used the CPU
the bidders needed (bench/README.md, "Bids"). Here a round's feed holds the one subscription and keeps the frames in
order; a watcher's stream sleeps until the feed flushes, then writes everything it has not sent in one chunk. The
feed flushes at most once per `window` (COLLATERAL_SSE_BATCH_MS, 200 ms by default), so a watcher wakes at most
that often however fast bids arrive: the lag this adds is the window, well inside the one second watchers get.

Each worker publishes after its own commit, so two bids committed one after the other can reach the channel in the
other order (or one late). The feed keeps accepted bids in commit order without loss: each carries its place among
the round's accepted bids (`seq`), and when one arrives out of turn the feed reads every accepted bid after the last
it holds from the bids table (all committed: a bid is published only after its commit) and drops the stragglers
when they arrive.

A watcher more than `backlog` frames behind (a client that stopped reading) loses its stream; reconnecting with
Last-Event-ID replays what it missed from the bids table, as after any other disconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from litestar.channels import ChannelsPlugin

from auctions import live

BACKLOG = 50_000


def batch_window() -> float:
    return float(os.environ.get("COLLATERAL_SSE_BATCH_MS", "200")) / 1000


class FeedLost(Exception):
    """The reader fell too far behind, or the feed's subscription failed: end the stream (the client reconnects)."""


Position = Callable[[], Awaitable[tuple[int, int]]]  # (accepted bids so far, the last one's id)
Replay = Callable[[int], Awaitable[list[dict[str, Any]]]]  # the accepted bids after an id, as events, by id


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
    readers: int = 0
    failed: BaseException | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    flushed: asyncio.Event = field(default_factory=asyncio.Event)
    _flush_due: asyncio.TimerHandle | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def end(self) -> int:
        return self.first + len(self.frames)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._listen(), name=f"round-feed-{self.round_id}")

    async def stop(self) -> None:
        if self._flush_due is not None:
            self._flush_due.cancel()
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
        woken, self.flushed = self.flushed, asyncio.Event()
        woken.set()

    def since(self, cursor: int) -> tuple[list[tuple[int, bytes]], int]:
        """The frames from sequence number `cursor` on, and the new cursor."""
        if self.failed is not None:
            raise FeedLost(str(self.failed))
        if cursor < self.first or self.end - cursor > self.backlog:
            raise FeedLost("the reader fell behind")
        return self.frames[cursor - self.first :], self.end


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
    feed.readers += 1
    try:
        await feed.ready.wait()
        yield feed, feed.end
    finally:
        feed.readers -= 1
        if feed.readers == 0 and _feeds.get(key) is feed:
            del _feeds[key]
            await feed.stop()


async def frames(feed: RoundFeed, cursor: int, sent: int, keepalive: float) -> AsyncIterator[bytes]:
    """Every frame published after `cursor`, in order, as one chunk per flush; bids up to `sent` (already replayed
    from the table) left out; a keepalive comment after `keepalive` seconds without one."""
    while True:
        if cursor == feed.end and feed.failed is None:
            woken = feed.flushed
            try:
                async with asyncio.timeout(keepalive):
                    await woken.wait()
            except TimeoutError:
                yield live.KEEPALIVE
                continue
        batch, cursor = feed.since(cursor)
        chunk = []
        for bid_id, frame in batch:
            if bid_id:
                if bid_id <= sent:
                    continue
                sent = bid_id
            chunk.append(frame)
        if chunk:
            yield b"".join(chunk)
