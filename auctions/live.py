"""Live round events through Litestar Channels, published only after the transaction that made them committed.

One process uses the in-memory backend; with `COLLATERAL_REDIS_URL` (several workers) the Redis backend carries
an event from the worker that took the bid to subscribers on every worker. The history a reconnecting client
needs comes from the bids table, never from the channel."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from functools import cache
from typing import Any

from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.types import ASGIApp, Receive, Scope, Send

from registry.config import get_settings

# The channels of the app serving the current request (or running the sweep): several apps may live in one
# process (tests build more than one), so the plugin is found per request, never kept in a global.
_current: ContextVar[ChannelsPlugin | None] = ContextVar("round_channels", default=None)
# Events waiting for the transaction that made them to commit; None outside `outbox()`.
_outbox: ContextVar[list[tuple[int, dict[str, Any], int]] | None] = ContextVar("round_event_outbox", default=None)


def channel(round_id: int) -> str:
    return f"round-{_database_tag(get_settings().database_url)}-{round_id}"


@cache
def _database_tag(database_url: str) -> str:
    """Redis Pub/Sub channels are one namespace for every client of a Redis server, whatever database number each
    uses: two installations sharing one (or a test run beside a benchmark) heard each other's round 1, and a stranger's
    bid taken into a round's feed pushed the round's own bid of that place out of it. The channel names the database
    the rounds live in, by a digest (the URL may hold a password)."""
    return hashlib.sha256(database_url.encode()).hexdigest()[:16]


def build_channels(redis_url: str | None) -> ChannelsPlugin:
    if redis_url:
        from litestar.channels.backends.redis import RedisChannelsPubSubBackend
        from redis.asyncio import Redis

        backend: Any = RedisChannelsPubSubBackend(redis=Redis.from_url(redis_url))
    else:
        backend = MemoryChannelsBackend()
    return ChannelsPlugin(backend=backend, arbitrary_channels_allowed=True)


def bind(plugin: ChannelsPlugin | None) -> None:
    """Publish through this plugin for the rest of the current task (the sweep binds its app's)."""
    _current.set(plugin)


def channels_middleware(app: ASGIApp) -> ASGIApp:
    """Bind the serving app's channels for each request, so a service publishes to the app it runs in."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        owner = scope.get("app")
        token = _current.set(owner.plugins.get(ChannelsPlugin) if owner is not None else None)
        try:
            await app(scope, receive, send)
        finally:
            _current.reset(token)

    return middleware


_SEP = "\r\n"


def sse_frame(event: str, data: str, event_id: int | str | None = None) -> bytes:
    """One server-sent event as the wire carries it. `data` is one line of JSON (json.dumps writes no newline)."""
    head = f"id: {event_id}{_SEP}" if event_id is not None else ""
    return f"{head}event: {event}{_SEP}data: {data}{_SEP}{_SEP}".encode()


KEEPALIVE = f": keepalive{_SEP}{_SEP}".encode()


def published(event: dict[str, Any], seq: int = 0) -> bytes:
    """What goes on the channel: a first line naming the bid's id and its place among the round's accepted bids
    (`seq`, the round's bid_count after it; both 0 for other events), then the event's frame, encoded once here
    rather than once per subscriber: a hot round has thousands of them."""
    kind = str(event.get("event", "status"))
    bid_id = int(event["id"]) if kind == "bid" else 0
    frame = sse_frame(kind, json.dumps(event, default=str), bid_id if kind == "bid" else None)
    return f"{bid_id} {seq if bid_id else 0}\n".encode() + frame


def read_published(message: bytes) -> tuple[int, int, bytes]:
    """(the bid's id or 0, its seq or 0, the frame) of a message `published` made."""
    head, _, frame = message.partition(b"\n")
    bid_id, _, seq = head.partition(b" ")
    return int(bid_id), int(seq or 0), frame


def publish(round_id: int, event: dict[str, Any], seq: int = 0) -> None:
    """Queue an event for a round's subscribers. Call after commit; without an app (the CLI, the demo) a no-op."""
    plugin = _current.get()
    if plugin is not None:
        plugin.publish(published(event, seq), channels=[channel(round_id)])


def publish_after_commit(round_id: int, event: dict[str, Any], seq: int = 0) -> None:
    """Inside `outbox()`, hold the event until the block has committed; outside one, publish it now. An accepted
    bid's event carries its `seq`: the workers publish after their own commits, so two bids committed in one
    order can reach the channel in the other, and the feed (auctions.feed) puts them back in order by it."""
    box = _outbox.get()
    if box is None:
        publish(round_id, event, seq)
    else:
        box.append((round_id, event, seq))


@asynccontextmanager
async def outbox() -> AsyncIterator[None]:
    """Wrap a write transaction: its events go out once it committed, and never if it raised."""
    token = _outbox.set([])
    try:
        yield
        held = _outbox.get() or []
    finally:
        _outbox.reset(token)
    for round_id, event, seq in held:
        publish(round_id, event, seq)
