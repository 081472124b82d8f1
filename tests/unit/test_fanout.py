"""auctions.fanout.Writer: a send that does not wait runs to its end in place; one that waits is finished by a task
of its own, the stream busy meanwhile; a failure is reported once; a stream that ends gives up its waiting write."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from auctions.fanout import Writer

pytestmark = pytest.mark.unit


class Socket:
    """A stream's `send`: writes land in `written`; while `full` is clear, each write waits for it, as uvicorn's
    send waits for a full buffer to drain."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.full = asyncio.Event()
        self.full.set()
        self.fail_with: BaseException | None = None

    async def send(self, message: dict[str, Any]) -> None:
        await self.full.wait()
        if self.fail_with is not None:
            raise self.fail_with
        self.written.append(message["body"])


def writer(socket: Socket) -> tuple[Writer, list[str]]:
    seen: list[str] = []
    return Writer(socket.send, lambda exc: seen.append(f"failed: {exc}"), lambda: seen.append("drained")), seen


async def test_a_write_that_need_not_wait_is_done_before_write_returns() -> None:
    socket = Socket()
    w, seen = writer(socket)
    tasks = len(asyncio.all_tasks())
    assert w.write(b"a") and w.write(b"b")
    assert socket.written == [b"a", b"b"] and not w.busy
    assert len(asyncio.all_tasks()) == tasks and seen == []  # no task was made


async def test_a_write_that_waits_is_finished_later_and_the_stream_is_busy_meanwhile() -> None:
    socket = Socket()
    socket.full.clear()
    w, seen = writer(socket)
    assert w.write(b"a")
    assert w.busy and socket.written == []
    assert not w.write(b"b")  # refused while the first waits: the caller keeps it for later
    socket.full.set()
    await asyncio.wait_for(w.waiting, 5)  # type: ignore[arg-type]
    assert socket.written == [b"a"] and seen == ["drained"] and not w.busy


async def test_a_failing_write_is_reported_and_ends_the_stream() -> None:
    socket = Socket()
    socket.fail_with = ConnectionResetError("gone")
    w, seen = writer(socket)
    assert w.write(b"a")
    assert seen == ["failed: gone"] and w.busy and not w.write(b"b")
    socket2 = Socket()
    socket2.full.clear()
    socket2.fail_with = ConnectionResetError("gone later")
    w2, seen2 = writer(socket2)
    w2.write(b"a")
    socket2.full.set()
    await asyncio.wait_for(w2.waiting, 5)  # type: ignore[arg-type]
    assert seen2 == ["failed: gone later"] and w2.failed


async def test_a_stream_that_ends_gives_up_its_waiting_write() -> None:
    socket = Socket()
    socket.full.clear()
    w, _seen = writer(socket)
    w.write(b"a")
    waiting = w.waiting
    w.cancel()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert waiting is not None and waiting.done() and socket.written == []
