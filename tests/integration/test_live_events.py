"""The live feed on real servers: two server processes on one database, bridged by Redis as several workers are,
so a bid taken by one reaches a subscriber of the other within a second, in order; and a client reconnecting with
Last-Event-ID gets what it missed from the bids table. SQLite pass only (the servers run on their own database);
needs Redis at 127.0.0.1:6379, which CI starts."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ENGINE
from tests.servers import collateral, free_port, require_redis

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(ENGINE != "sqlite", reason="starts its own servers on SQLite; once is enough"),
]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    require_redis()
    tmp = tmp_path_factory.mktemp("live")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'live.sqlite3'}",
        "COLLATERAL_DATA_DIR": str(tmp / "data"),
        "COLLATERAL_SECRET_KEY": "live-events-test-secret-key-of-32-bytes-or-more",
        "COLLATERAL_REDIS_URL": REDIS_URL,
        "COLLATERAL_LOGIN_ATTEMPTS_PER_MINUTE": "10000",
        # Keepalives far more often than in production, so every stream here lives through several of them.
        "COLLATERAL_SSE_KEEPALIVE_SECONDS": "0.2",
    }
    seeded = subprocess.run(
        [sys.executable, "-m", "tests.live_seed"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    round_id = int(seeded.stdout.strip().splitlines()[-1])
    procs, urls = [], []
    for name in ("a", "b"):
        port = free_port()
        log = (tmp / f"server-{name}.log").open("wb")
        procs.append(
            subprocess.Popen(
                [*collateral(), "serve", "--host", "127.0.0.1", "--port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url, proc in zip(urls, procs, strict=True):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                assert proc.poll() is None, (tmp / "server-a.log").read_text()[-3000:]
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
        yield {"round": round_id, "a": urls[0], "b": urls[1]}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _token(url: str, name: str) -> dict[str, str]:
    r = httpx.post(f"{url}/api/auth/login", json={"username": name, "password": f"{name}-password"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


class Feed:
    """Reads a round's event stream on a thread, keeping every event with the time it arrived."""

    def __init__(self, url: str, round_id: int, headers: dict[str, str]) -> None:
        self.events: list[tuple[float, str, str | None, dict[str, Any]]] = []
        self.ready = threading.Event()
        self._stop = False
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._run, args=(url, round_id, headers), daemon=True)
        self._thread.start()
        assert self.ready.wait(10), "no snapshot within 10 s"

    def _run(self, url: str, round_id: int, headers: dict[str, str]) -> None:
        event, event_id = "message", None
        with (
            contextlib.suppress(httpx.HTTPError, RuntimeError, AttributeError),
            httpx.stream("GET", f"{url}/api/rounds/{round_id}/events", headers=headers, timeout=30) as r,
        ):
            self._response = r
            for line in r.iter_lines():
                if self._stop:
                    return
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("id:"):
                    event_id = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    self.events.append((time.monotonic(), event, event_id, json.loads(line.split(":", 1)[1])))
                    if event == "snapshot":
                        self.ready.set()
                    event, event_id = "message", None

    def bids(self) -> list[dict[str, Any]]:
        return [e[3] for e in self.events if e[1] == "bid"]

    def wait_for_bids(self, count: int, seconds: float = 3.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + seconds
        while len(self.bids()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.bids()

    def stop(self) -> None:
        self._stop = True
        if self._response is not None:
            self._response.close()
        self._thread.join(1)


def test_a_bid_taken_by_one_server_reaches_a_subscriber_of_the_other(servers) -> None:
    watcher = Feed(servers["b"], servers["round"], _token(servers["b"], "officer"))
    time.sleep(1.0)  # idle through several keepalives first: the stream must survive them
    alice, bob = _token(servers["a"], "alice"), _token(servers["a"], "bob")
    url = f"{servers['a']}/api/rounds/{servers['round']}/bids"
    sent_at = {}
    for who, amount in ((alice, "100000.00"), (bob, "101000.00"), (alice, "102000.00")):
        started = time.monotonic()
        r = httpx.post(url, headers=who, json={"amount": amount})
        assert r.status_code == 201, r.text
        sent_at[r.json()["bid_id"]] = started
    got = watcher.wait_for_bids(3)
    watcher.stop()
    assert [b["amount"] for b in got] == ["100000.00", "101000.00", "102000.00"]  # all, in order
    assert [b["leader"] for b in got] == ["bidder 1", "bidder 2", "bidder 1"]  # aliases, never names
    arrived = {int(e[2]): e[0] for e in watcher.events if e[1] == "bid"}
    assert max(arrived[i] - sent_at[i] for i in sent_at) < 1.0


def test_a_reconnecting_client_gets_what_it_missed(servers) -> None:
    officer = _token(servers["a"], "officer")
    first = Feed(servers["a"], servers["round"], officer)
    first.wait_for_bids(3)
    first.stop()
    seen = [int(e[2]) for e in first.events if e[1] == "bid"]
    assert seen, "the earlier test's bids are replayed from the bids table on connect"
    bob = _token(servers["b"], "bob")
    current = httpx.get(f"{servers['b']}/api/rounds/{servers['round']}", headers=bob).json()
    price = int(current["current_price"].split(".")[0])
    r = httpx.post(
        f"{servers['b']}/api/rounds/{servers['round']}/bids", headers=bob, json={"amount": f"{price + 5000}.00"}
    )
    assert r.status_code == 201, r.text
    resumed = Feed(servers["a"], servers["round"], {**officer, "Last-Event-ID": str(seen[-1])})
    resumed.wait_for_bids(1)
    time.sleep(0.3)  # a duplicate would arrive right behind
    resumed.stop()
    assert [b["id"] for b in resumed.bids()] == [r.json()["bid_id"]]  # only the missed bid, once
