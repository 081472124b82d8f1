"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for load generators that share the cores with the server.

httpx costs a few milliseconds of CPU per request (its pool, its header models, h11 in Python): on a 2-core machine
the 50 bidding clients of bench/bids.py used a sixth of both cores for that alone, CPU the server then lacked. This
writes the request by hand and reads the answer by its Content-Length (or chunks), which is all the bench's requests
need. Not a general client: no redirects, no TLS, no compression."""

from __future__ import annotations

import asyncio
import json
from typing import Any


class Closed(ConnectionError):
    """The server closed the connection before answering (an idle keep-alive connection it timed out)."""


class RawConnection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: Any = None
    ) -> tuple[int, dict[str, str], bytes]:
        """(status, headers with lower-case names, body). `body` is sent as JSON. Raises Closed when the server
        closed the connection first; the next request opens a new one."""
        reader, writer = await self._open()
        payload = b"" if body is None else json.dumps(body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(payload)}"]
        if body is not None:
            lines.append("Content-Type: application/json")
        lines += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self.close()
            raise Closed(repr(exc)) from None
        status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        answer: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            answer[name.strip().lower()] = value.strip()
        if "content-length" in answer:
            content = await reader.readexactly(int(answer["content-length"]))
        elif answer.get("transfer-encoding", "").lower() == "chunked":
            content = await _chunked(reader)
        else:
            content = await reader.read()
            self.close()
        if answer.get("connection", "").lower() == "close":
            self.close()
        return status, answer, content


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
