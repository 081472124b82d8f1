"""What the tests that run real server processes share: a free port, the command line of this checkout, Redis."""

from __future__ import annotations

import os
import socket
import sys

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def collateral(*args: str) -> list[str]:
    """`collateral ARGS` running this checkout's code (the working directory comes first on sys.path), whatever the
    virtualenv's script would import."""
    return [sys.executable, "-c", "import app; app.cli()", *args]


def redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def require_redis() -> None:
    """Skip without Redis at 127.0.0.1:6379, except under CI=true, where it must be running."""
    if not redis_up():
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true requires Redis at 127.0.0.1:6379")
        pytest.skip("no Redis at 127.0.0.1:6379")
