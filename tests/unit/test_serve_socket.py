"""`collateral serve --workers N` shares one listening socket between the workers; it must be marked as TCP so that
asyncio turns Nagle's algorithm off on each connection (else every answer waits 40 ms for a delayed ACK)."""

from __future__ import annotations

import asyncio
import socket

import pytest
import uvicorn

from registry.cli import tcp_socket

pytestmark = pytest.mark.unit


async def _nodelay_on_accepted(listening: socket.socket) -> int:
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(accepted, sock=listening)
    async with server:
        port = listening.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        flag = await asyncio.wait_for(seen, 10)
        writer.close()
    return flag


async def test_the_shared_socket_gives_connections_without_nagle() -> None:
    bound = uvicorn.Config("app:create_app", host="127.0.0.1", port=0).bind_socket()
    assert await _nodelay_on_accepted(tcp_socket(bound)) != 0


async def test_uvicorns_own_socket_would_keep_nagle_on() -> None:
    # The reason for tcp_socket: if uvicorn ever binds a TCP-marked socket itself, this fails and it can go.
    bound = uvicorn.Config("app:create_app", host="127.0.0.1", port=0).bind_socket()
    assert await _nodelay_on_accepted(bound) == 0
