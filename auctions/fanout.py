"""Writing one chunk to many ASGI streams from one task, without waiting for a slow one.

An ASGI `send` returns at once when the socket takes the bytes, and waits only when the connection's buffer is full
(uvicorn's flow control: a client that stopped reading). Awaiting each send in turn would let one such client hold
every other watcher's event; a task or a timeout per send costs more than the write itself, thousands of times per
bid. So each send is started here and runs to its end in place when it does not wait, the common case; one that
waits is handed, where it stopped, to a task of its own, and its stream gets nothing more until it has finished."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from litestar.types import Send


class Writer:
    """One stream's writes, one at a time."""

    __slots__ = ("failed", "on_drained", "on_failure", "send", "waiting")

    def __init__(self, send: Send, on_failure: Callable[[BaseException], None], on_drained: Callable[[], None]) -> None:
        self.send = send
        self.waiting: asyncio.Task[None] | None = None  # the write still going on, if one had to wait
        self.failed = False
        self.on_failure = on_failure
        self.on_drained = on_drained  # a write that had to wait is through: what came meanwhile can go

    @property
    def busy(self) -> bool:
        return self.waiting is not None or self.failed

    def write(self, body: bytes) -> bool:
        """Start writing `body`: True when it was written (or is being written), False when the stream is busy with
        an earlier write or failed (the caller keeps its place and writes again later)."""
        if self.busy:
            return False
        step: Coroutine[Any, Any, None] = self.send({"type": "http.response.body", "body": body, "more_body": True})  # type: ignore[assignment]
        try:
            awaited = step.send(None)
        except StopIteration:
            return True
        except BaseException as exc:  # noqa: BLE001 - a failed write ends this stream only
            self._fail(exc)
            return True
        self.waiting = asyncio.get_running_loop().create_task(self._finish(step, awaited))
        return True

    async def _finish(self, step: Coroutine[Any, Any, None], awaited: Any) -> None:
        # What asyncio's Task does for a coroutine: wait for what it waits on, then resume it, until it returns.
        try:
            while True:
                try:
                    if awaited is None:
                        await asyncio.sleep(0)
                    else:
                        # The send yielded the future it waits on, marked as awaited by it; as a task would, take
                        # the mark off before awaiting it here (awaiting a marked future is refused).
                        awaited._asyncio_future_blocking = False
                        await awaited
                except BaseException as exc:  # noqa: BLE001 - handed to the send, as a task would
                    awaited = step.throw(exc)
                    continue
                awaited = step.send(None)
        except StopIteration:
            self.waiting = None
            self.on_drained()
        except BaseException as exc:  # noqa: BLE001 - a failed write ends this stream only
            self.waiting = None
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        self.failed = True
        self.on_failure(exc)

    def cancel(self) -> None:
        """The stream is ending: a write still waiting for the client is given up (its bids are replayed from the
        table when the client reconnects with the last id it got)."""
        if self.waiting is not None:
            self.waiting.cancel()
