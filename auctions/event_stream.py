"""The live feed's HTTP response: Litestar's streaming response (its headers, its watch for the client leaving),
with the body written by the round's feed straight to the stream's `send` rather than pulled from an iterator one
chunk at a time in a task per watcher (auctions.feed)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from litestar.response.streaming import ASGIStreamingResponse
from litestar.types import Send


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # an async generator that yields nothing


class EventStream(ASGIStreamingResponse):
    """`write(send)` writes the whole body; the stream ends when it returns, or when the client goes (cancelled)."""

    def __init__(self, write: Callable[[Send], Awaitable[None]], **kwargs: Any) -> None:
        super().__init__(iterator=_nothing(), **kwargs)
        self.write = write

    async def _stream(self, send: Send) -> None:
        await self.write(send)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
