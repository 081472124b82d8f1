"""A hot auction: 50 bidders on one round while thousands watch its live feed, on PostgreSQL with two workers.

    python bench/bids.py [--bidders 50] [--watchers 2000] [--seconds 30] [--workers 2] [--database NAME]

1. A fresh PostgreSQL database seeded with one round bidding now (`python -m tests.live_seed`: the round, its
   case and lot, --bidders admitted bidders), then `collateral serve --workers N` with COLLATERAL_REDIS_URL
   (Redis at 127.0.0.1:6379, database 14), as a subprocess on a free port.
2. In this process (asyncio, httpx): --watchers clients hold GET /api/rounds/{id}/events open and keep every bid
   event with its arrival time; then --bidders clients bid for --seconds, each bidding the price it last saw plus
   one to three increments, with an Idempotency-Key per bid, as fast as the answers come back.
3. Prints and writes bench/results/bids.json: accepted and refused bids per second, bid latency p50/p99, the
   delivery lag from the bid's receipt on the server to its arrival at each watcher (p50/p99; receipt is just
   before commit, so this bounds the lag from commit), and watchers that missed or got out of order any accepted bid
   (checked against the bids table). Targets (issue 12, 2 cores with the load generator on them): >= 500 bids/s,
   bid p99 <= 100 ms, delivery lag p99 <= 1 s, 0 missed or out of order. Exit 1 only when the run itself failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "bids.json"
sys.path.insert(0, str(ROOT / "bench"))


def _bench_import() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_import", ROOT / "bench" / "import.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_import"] = module
    spec.loader.exec_module(module)
    return module


bi = _bench_import()


def _units(text: str) -> int:
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int(frac or 0)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


_EVENT_ID = re.compile(rb"(?:^|\n)id: ?(\d+)\r?\n")
_AT = re.compile(rb'"at": ?"([^"]+)"')


class Watcher:
    """One open event stream on a plain socket: an HTTP/1.1 GET written by hand, the raw bytes split on the blank
    line between events and read with two regular expressions (C speed). The load generator shares the 2 cores
    with the server, and httpx's stream machinery cost more per chunk than the server spent writing it. The
    chunked framing's size lines fall between events (the server writes whole events per chunk) and match
    neither expression; a parsing slip would show as a missed event, which is checked against the bids table."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[int, float, str]] = []  # bid id, arrival (epoch s), receipt "at"
        self.connected = asyncio.Event()
        self.error: str | None = None

    async def run(self, host: str, port: int, url: str, headers: dict[str, str]) -> None:
        writer = None
        try:
            reader, writer = await asyncio.open_connection(host, port)
            lines = [f"GET {url} HTTP/1.1", f"Host: {host}:{port}", "Accept: text/event-stream"]
            lines += [f"{name}: {value}" for name, value in headers.items()]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise ConnectionError(head.split(b"\r\n", 1)[0].decode())
            buffer = b""
            while data := await reader.read(65536):
                now = time.time()
                buffer += data
                *events, buffer = buffer.split(b"\r\n\r\n")
                for block in events:
                    if b"event: bid" in block:
                        event_id, at = _EVENT_ID.search(block), _AT.search(block)
                        if event_id and at:
                            self.arrivals.append((int(event_id[1]), now, at[1].decode()))
                    elif b"event: snapshot" in block:
                        self.connected.set()
            raise ConnectionError("the server closed the stream")
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError) as exc:
            if not isinstance(exc, asyncio.CancelledError):
                self.error = repr(exc)
            self.connected.set()
        finally:
            if writer is not None:
                writer.close()


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

    asyncio.run(main())


async def bidder(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], stop_at: float, out: dict[str, Any], seed: int
) -> None:
    rng = random.Random(seed)
    price, step, n = 100_000_00, 1_000_00, 0
    while time.monotonic() < stop_at:
        amount = price + step * rng.randint(1, 3)
        n += 1
        started = time.perf_counter()
        send = {
            "headers": {**headers, "Idempotency-Key": f"{headers['Authorization'][-12:]}-{n}"},
            "json": {"amount": f"{amount // 100}.{amount % 100:02d}"},
        }
        try:
            r = await client.post(url, **send)
        except httpx.TransportError:
            # A pooled connection the server closed as idle just as it was reused: send again with the same
            # Idempotency-Key, as a real client would, which returns the first answer if there was one.
            out["retries"] += 1
            r = await client.post(url, **send)
        out["latency"].append(time.perf_counter() - started)
        body = r.json()
        if r.status_code == 201:
            out["accepted"] += 1
            price = _units(body["current_price"])
        elif r.status_code in (409, 422):
            out["refused"] += 1
            if body.get("code") == "closed":
                return
            # The refusal names the current price, so the next bid goes above it without reading the round.
            if body.get("current_price"):
                price = _units(body["current_price"])
        else:
            out["errors"].append(f"{r.status_code} {r.text[:200]}")


async def run(args: argparse.Namespace, base: str, round_id: int, env: dict[str, str]) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=args.bidders + 50, max_keepalive_connections=args.bidders + 10)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        login = await client.post("/api/auth/login", json={"username": "officer", "password": "officer-password"})
        officer = {"Authorization": f"Bearer {login.json()['access_token']}"}
        events_url = f"/api/rounds/{round_id}/events"
        # The watchers live in processes of their own, so parsing their events does not slow the bidders' client.
        context = multiprocessing.get_context("spawn")
        stop, results = context.Event(), context.Queue()
        processes, readies = [], []
        shares = [
            args.watchers // args.watcher_processes + (i < args.watchers % args.watcher_processes)
            for i in range(args.watcher_processes)
        ]
        started = time.monotonic()
        for share in shares:
            ready = context.Event()
            process = context.Process(
                target=watch_in_process, args=(base, events_url, officer, share, ready, stop, results), daemon=True
            )
            process.start()
            processes.append(process)
            readies.append(ready)
        for ready in readies:
            if not await asyncio.to_thread(ready.wait, 300):
                raise SystemExit("watchers did not connect within 300 s")
        connect_s = time.monotonic() - started
        names = ["alice", "bob", *(f"bidder{i:03d}" for i in range(args.bidders - 2))]
        tokens = []
        for name in names:
            r = await client.post("/api/auth/login", json={"username": name, "password": f"{name}-password"})
            tokens.append({"Authorization": f"Bearer {r.json()['access_token']}"})
        out: dict[str, Any] = {"accepted": 0, "refused": 0, "latency": [], "errors": [], "retries": 0}
        bid_url = f"/api/rounds/{round_id}/bids"
        t0 = time.monotonic()
        await asyncio.gather(*(bidder(client, bid_url, h, t0 + args.seconds, out, i) for i, h in enumerate(tokens)))
        elapsed = time.monotonic() - t0
        await asyncio.sleep(3)  # let the last events reach every watcher
        stop.set()
        watched: list[tuple[list[tuple[int, float, str]], str | None]] = []
        for _ in processes:
            watched += await asyncio.to_thread(results.get, True, 120)
        for process in processes:
            process.join(30)
    accepted_ids = await asyncio.to_thread(_accepted_ids, env, round_id)
    lags, missed, disordered, errors = [], 0, 0, 0
    missing_example: list[int] = []
    for arrivals, error in watched:
        ids = [a[0] for a in arrivals]
        if error:
            errors += 1
        if lost := set(accepted_ids) - set(ids):
            missed += 1
            missing_example = missing_example or sorted(lost)[:5]
        if ids != sorted(ids) or len(ids) != len(set(ids)):
            disordered += 1
        for _, arrived, at in arrivals:
            lags.append(arrived - datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp())
    lat = out["latency"]
    return {
        "watchers_connected_s": round(connect_s, 2),
        "watchers_seen": len(watched),
        "bidding_s": round(elapsed, 2),
        "bids": out["accepted"] + out["refused"],
        "accepted_per_s": round(out["accepted"] / elapsed, 1),
        "refused_per_s": round(out["refused"] / elapsed, 1),
        "bids_per_s": round((out["accepted"] + out["refused"]) / elapsed, 1),
        "bid_latency_p50_ms": round(1000 * (pct(lat, 0.5) or 0), 1),
        "bid_latency_p99_ms": round(1000 * (pct(lat, 0.99) or 0), 1),
        "events_delivered": len(lags),
        "delivery_lag_p50_s": round(pct(lags, 0.5) or 0, 3),
        "delivery_lag_p99_s": round(pct(lags, 0.99) or 0, 3),
        "accepted_in_db": len(accepted_ids),
        "watchers_missing_events": missed,
        "missing_bid_ids_example": missing_example,
        "first_and_last_accepted_bid_ids": [min(accepted_ids), max(accepted_ids)] if accepted_ids else [],
        "watchers_out_of_order": disordered,
        "watcher_errors": errors,
        "first_watcher_error": next((e for _, e in watched if e), None),
        "bid_errors": out["errors"][:10],
        "bids_sent_again_after_a_closed_connection": out["retries"],
    }


def _accepted_ids(env: dict[str, str], round_id: int) -> list[int]:
    sql = f"SELECT id FROM bid WHERE round = {round_id} AND accepted ORDER BY id"
    out = subprocess.run(
        [*bi._psql(env["BENCH_DB"]), "-tAc", sql],
        capture_output=True,
        text=True,
        check=True,
    )
    return [int(x) for x in out.stdout.split()]


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bidders", type=int, default=50)
    parser.add_argument("--watchers", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--watcher-processes", type=int, default=1)
    parser.add_argument("--database", default="collateral_bench_bids")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    subprocess.run([*bi._psql(), "-qc", f"DROP DATABASE IF EXISTS {args.database}"], check=True, capture_output=True)
    subprocess.run([*bi._psql(), "-qc", f"CREATE DATABASE {args.database}"], check=True, capture_output=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["BENCH_SERVER_LOG"] = str(Path(tmp) / "server.log")
        env = {
            **os.environ,
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{args.database}",
            "COLLATERAL_DATA_DIR": tmp,
            "COLLATERAL_SECRET_KEY": "bench-bids-secret-key-of-at-least-32-bytes",
            "COLLATERAL_REDIS_URL": "redis://127.0.0.1:6379/14",
            "COLLATERAL_LOGIN_ATTEMPTS_PER_MINUTE": "100000",
            "BENCH_DB": args.database,
        }
        seeded = subprocess.run(
            [bi._python(), "-m", "tests.live_seed", str(args.bidders - 2), "3.0"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if seeded.returncode:
            raise SystemExit(seeded.stderr[-3000:])
        round_id = int(seeded.stdout.split()[-1])
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log = Path(tmp) / "server.log"
        with log.open("wb") as server_out:
            server = subprocess.Popen(
                [bi._collateral(), "serve", "--port", str(port), "--workers", str(args.workers)],
                cwd=ROOT,
                env=env,
                stdout=server_out,
                stderr=subprocess.STDOUT,
            )
            base = f"http://127.0.0.1:{port}"
            try:
                for _ in range(240):
                    try:
                        if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.25)
                figures = asyncio.run(run(args, base, round_id, env))
            finally:
                keep = ROOT / "bench" / "results" / "bids-server.log"
                if log.exists():
                    keep.write_bytes(log.read_bytes()[-200_000:])
                server.terminate()
                try:
                    server.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    server.kill()
    targets = {"bids_per_s": 500, "bid_latency_p99_ms": 100, "delivery_lag_p99_s": 1.0, "missed_or_reordered": 0}
    met = {
        "bids_per_s": figures["bids_per_s"] >= targets["bids_per_s"],
        "bid_latency_p99_ms": figures["bid_latency_p99_ms"] <= targets["bid_latency_p99_ms"],
        "delivery_lag_p99_s": figures["delivery_lag_p99_s"] <= targets["delivery_lag_p99_s"],
        "missed_or_reordered": figures["watchers_missing_events"] + figures["watchers_out_of_order"] == 0,
    }
    result = {
        "args": vars(args),
        "figures": figures,
        "targets": targets,
        "met": met,
        "machine": bi.machine(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"hot auction: {args.bidders} bidders, {args.watchers} watchers, {args.seconds:.0f} s, {args.workers} workers"
    )
    for key, value in figures.items():
        print(f"  {key:<26} {value}")
    print("  targets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in met.items()))
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0 if figures["bids"] and not figures["bid_errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
