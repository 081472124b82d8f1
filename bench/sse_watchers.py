"""The hot-auction bench's watchers: thousands of open event streams in a process of their own, each keeping every
bid event with its arrival time (bench/bids.py checks them against the bids table)."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any, cast

import httpx

_EVENT_ID = re.compile(rb"(?:^|\n)id: ?(\d+)\r?\n")
_AT = re.compile(rb'"at": ?"([^"]+)"')


class Watcher(asyncio.Protocol):
    """One open event stream on a plain socket: an HTTP/1.1 GET written by hand, the raw bytes split on the blank
    line between events and read with two regular expressions (C speed), in an asyncio protocol (no stream reader
    and no task per watcher: the load generator shares the 2 cores with the server, and every wake-up of a
    watcher costs them). The chunked framing's size lines fall between events (the server writes whole events per
    chunk) and match neither expression; a parsing slip would show as a missed event, which is checked against the
    bids table."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[int, float, str]] = []  # bid id, arrival (epoch s), receipt "at"
        self.connected = asyncio.Event()
        self.closed = asyncio.Event()
        self.error: str | None = None
        self._buffer = b""
        self._head = True
        self._transport: asyncio.Transport | None = None
        self._request = b""

    async def run(self, host: str, port: int, url: str, headers: dict[str, str]) -> None:
        lines = [f"GET {url} HTTP/1.1", f"Host: {host}:{port}", "Accept: text/event-stream"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self._request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        try:
            await asyncio.get_running_loop().create_connection(lambda: self, host, port)
            await self.closed.wait()
        except OSError as exc:
            self._fail(repr(exc))
        except asyncio.CancelledError:
            self.closed.set()  # stopped by the bench: the close that follows is no error
            self.connected.set()
        finally:
            if self._transport is not None:
                self._transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is one without inheriting from it
        self._transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self._buffer + data
        if self._head:
            head, found, rest = buffer.partition(b"\r\n\r\n")
            if not found:
                self._buffer = buffer
                return
            if not head.startswith(b"HTTP/1.1 200"):
                self._fail(head.split(b"\r\n", 1)[0].decode())
                return
            self._head, buffer = False, rest
        *events, self._buffer = buffer.split(b"\r\n\r\n")
        for block in events:
            if b"event: bid" in block:
                event_id, at = _EVENT_ID.search(block), _AT.search(block)
                if event_id and at:
                    self.arrivals.append((int(event_id[1]), now, at[1].decode()))
            elif b"event: snapshot" in block:
                self.connected.set()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.is_set():
            self._fail(repr(exc) if exc else "ConnectionError('the server closed the stream')")

    def _fail(self, error: str) -> None:
        self.error = self.error or error
        self.connected.set()
        self.closed.set()


def watch_in_process(
    base: str, url: str, headers: dict[str, str], count: int, ready: Any, stop: Any, results: Any
) -> None:
    """A process of watchers: connects `count` streams, sets `ready`, keeps every event until `stop`, then puts
    (arrivals, error) per watcher on `results`."""
    where = httpx.URL(base)

    async def main() -> None:
        watchers = [Watcher() for _ in range(count)]
        tasks = [asyncio.create_task(w.run(where.host, where.port or 80, url, headers)) for w in watchers]
        await asyncio.wait_for(asyncio.gather(*(w.connected.wait() for w in watchers)), 300)
        ready.set()
        await asyncio.to_thread(stop.wait)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        results.put([(w.arrivals, w.error) for w in watchers])

    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())
