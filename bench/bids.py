"""A hot auction: 50 bidders on one round while thousands watch its live feed, on PostgreSQL with two workers.

    python bench/bids.py [--bidders 50] [--watchers 2000] [--seconds 30] [--workers 2] [--rate R] [--warmup 2]

1. A fresh PostgreSQL database seeded with one round bidding now (`python -m tests.live_seed`: the round, its
   case and lot, --bidders admitted bidders), then `collateral serve --workers N` with COLLATERAL_REDIS_URL
   (Redis at 127.0.0.1:6379, database 14), as a subprocess on a free port.
2. In this process (asyncio on uvloop): --watchers clients, in a process of their own, hold GET
   /api/rounds/{id}/events open and keep every bid event with its arrival time; then --bidders clients, each on a
   hand-written HTTP/1.1 keep-alive connection (bench/raw_http.py), bid for --seconds, each bidding the price it last
   saw plus one to three increments, with an Idempotency-Key per bid, as fast as the answers come back; or with
   --rate R, R bids a second in all on a fixed schedule, each bid's latency counted from when it was due. The first
   --warmup seconds of bidding are not counted.
3. Prints and writes bench/results/bids.json (bids-at-R.json with --rate): accepted and refused bids per second, bid
   latency p50/p99, the delivery lag from the bid's receipt on the server to its arrival at each watcher (p50/p99;
   receipt is just before commit, so this bounds the lag from commit), and watchers that missed or got out of order
   any accepted bid (checked against the bids table). Targets (issue 12, 2 cores with the load generator on them): >=
   500 bids/s, bid p99 <= 100 ms, delivery lag p99 <= 1 s, 0 missed or out of order. Also the CPU seconds each group
   of processes used while bidding (server workers, bidders, watchers, PostgreSQL backends, Redis), the machine's
   busy share, and the server's CPU milliseconds per bid. With --py-spy DIR the workers are sampled
   (bench/py_spy_top.py sums the stacks). Exit 1 only when the run itself failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
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
from cpu_share import CpuWindow, descendants, postgres_backends, redis_servers  # noqa: E402 - bench/ on the path
from raw_http import Closed, RawConnection  # noqa: E402
from sse_watchers import watch_in_process  # noqa: E402


def _units(text: str) -> int:
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int(frac or 0)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bidder(
    connection: RawConnection,
    url: str,
    headers: dict[str, str],
    stop_at: float,
    out: dict[str, Any],
    seed: int,
    interval: float | None = None,
    measure_from: float = 0.0,
) -> None:
    """Bids until `stop_at` (time.monotonic()): as fast as the answers come back, or with `interval` one bid every
    `interval` seconds on a fixed schedule, its latency counted from the time it was due (a late answer delays the
    next bid, and that delay counts against the server: the bench cannot go easy on a slow server by sending less).
    Bids sent before `measure_from` (time.perf_counter()) warm the server up and are not counted."""
    rng = random.Random(seed)
    price, step, n = 100_000_00, 1_000_00, 0
    due = time.perf_counter() + (interval or 0) * rng.random()
    while time.monotonic() < stop_at:
        amount = price + step * rng.randint(1, 3)
        n += 1
        if interval is None:
            started = time.perf_counter()
        else:
            if (wait := due - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            started, due = due, due + interval
        send = {**headers, "Idempotency-Key": f"{headers['Authorization'][-12:]}-{n}"}
        body = {"amount": f"{amount // 100}.{amount % 100:02d}"}
        try:
            status, _, content = await connection.request("POST", url, send, body)
        except Closed:
            # A kept-alive connection the server closed as idle just as it was reused: send again with the same
            # Idempotency-Key, as a real client would, which returns the first answer if there was one.
            out["retries"] += 1
            status, _, content = await connection.request("POST", url, send, body)
        took = time.perf_counter() - started
        counted = started >= measure_from  # a warm-up bid still moves the price and still reports an error
        answer = json.loads(content)
        if counted:
            out["latency"].append(took)
            out["latency_accepted" if status == 201 else "latency_refused"].append(took)
        if status == 201:
            out["accepted"] += counted
            price = _units(answer["current_price"])
        elif status in (409, 422):
            out["refused"] += counted
            if answer.get("code") == "closed":
                return
            # The refusal names the current price, so the next bid goes above it without reading the round.
            if answer.get("current_price"):
                price = _units(answer["current_price"])
        else:
            out["errors"].append(f"{status} {content[:200]!r}")


def _profile(args: argparse.Namespace, server_pid: int) -> list[subprocess.Popen[bytes]]:
    """With --py-spy DIR: sample each server worker for the bidding window, as collapsed stacks (DIR/worker-PID.txt,
    one `stack count` line each), which bench/py_spy_top.py sums by function."""
    if not args.py_spy:
        return []
    Path(args.py_spy).mkdir(parents=True, exist_ok=True)
    spy = str(Path(bi._python()).with_name("py-spy"))
    return [
        subprocess.Popen(
            [
                spy,
                "record",
                "-f",
                "raw",
                "-r",
                "200",
                "-d",
                str(int(args.seconds)),
                "-p",
                str(pid),
                "-o",
                str(Path(args.py_spy) / f"worker-{pid}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in descendants(server_pid)[1:]
        if "resource_tracker" not in (Path("/proc") / str(pid) / "cmdline").read_text(errors="replace")
    ]


def _start_watchers(
    args: argparse.Namespace, base: str, url: str, headers: dict[str, str]
) -> tuple[list[Any], list[Any], Any, Any]:
    """The watchers live in processes of their own, so parsing their events does not slow the bidders' client."""
    context = multiprocessing.get_context("spawn")
    stop, results = context.Event(), context.Queue()
    processes, readies = [], []
    shares = [
        args.watchers // args.watcher_processes + (i < args.watchers % args.watcher_processes)
        for i in range(args.watcher_processes)
    ]
    for share in shares:
        ready = context.Event()
        process = context.Process(
            target=watch_in_process, args=(base, url, headers, share, ready, stop, results), daemon=True
        )
        process.start()
        processes.append(process)
        readies.append(ready)
    return processes, readies, stop, results


async def _bid(
    args: argparse.Namespace, base: str, round_id: int, tokens: list[dict[str, str]], cpu_groups: dict[str, list[int]]
) -> tuple[dict[str, Any], float, dict[str, Any]]:
    """Every bidder bids for --seconds: (what they got, the seconds it took, the CPU each group of processes used)."""
    out: dict[str, Any] = {
        "accepted": 0,
        "refused": 0,
        "latency": [],
        "latency_accepted": [],
        "latency_refused": [],
        "errors": [],
        "retries": 0,
    }
    bid_url = f"/api/rounds/{round_id}/bids"
    # Each bidder on a connection of its own, written by hand (bench/raw_http.py): httpx cost the load generator
    # milliseconds of CPU per bid, on the cores the server needs.
    where = httpx.URL(base)
    connections = [RawConnection(where.host, where.port or 80) for _ in tokens]
    interval = len(tokens) / args.rate if args.rate else None
    stop_at = time.monotonic() + args.warmup + args.seconds
    measure_from = time.perf_counter() + args.warmup
    bidding = asyncio.gather(
        *(
            bidder(c, bid_url, h, stop_at, out, i, interval, measure_from)
            for i, (c, h) in enumerate(zip(connections, tokens, strict=True))
        )
    )
    await asyncio.sleep(args.warmup)
    cpu = CpuWindow(cpu_groups)
    spies = _profile(args, cpu_groups["server_workers"][0])
    t0 = time.monotonic()
    await bidding
    elapsed = time.monotonic() - t0
    cpu_used = cpu.stop(elapsed)
    for connection in connections:
        connection.close()
    for spy in spies:
        spy.wait(60)
    return out, elapsed, cpu_used


async def run(
    args: argparse.Namespace, base: str, round_id: int, env: dict[str, str], server_pid: int
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        login = await client.post("/api/auth/login", json={"username": "officer", "password": "officer-password"})
        officer = {"Authorization": f"Bearer {login.json()['access_token']}"}
        started = time.monotonic()
        processes, readies, stop, results = _start_watchers(args, base, f"/api/rounds/{round_id}/events", officer)
        for ready in readies:
            if not await asyncio.to_thread(ready.wait, 300):
                raise SystemExit("watchers did not connect within 300 s")
        connect_s = time.monotonic() - started
        names = ["alice", "bob", *(f"bidder{i:03d}" for i in range(args.bidders - 2))]
        tokens = []
        for name in names:
            r = await client.post("/api/auth/login", json={"username": name, "password": f"{name}-password"})
            tokens.append({"Authorization": f"Bearer {r.json()['access_token']}"})
    groups = {
        "server_workers": descendants(server_pid),
        "bidders_client": [os.getpid()],
        "watchers_client": [p.pid for p in processes if p.pid is not None],
        "postgres_backends": postgres_backends(args.database),
        "redis": redis_servers(),
    }
    out, elapsed, cpu_used = await _bid(args, base, round_id, tokens, groups)
    await asyncio.sleep(3)  # let the last events reach every watcher
    stop.set()
    watched: list[tuple[list[tuple[int, float, str]], str | None]] = []
    for _ in processes:
        watched += await asyncio.to_thread(results.get, True, 120)
    for process in processes:
        process.join(30)
    accepted_ids = await asyncio.to_thread(_accepted_ids, env, round_id)
    bids = out["accepted"] + out["refused"]
    return {
        "watchers_connected_s": round(connect_s, 2),
        "watchers_seen": len(watched),
        "bidding_s": round(elapsed, 2),
        "bids": bids,
        "accepted_per_s": round(out["accepted"] / elapsed, 1),
        "refused_per_s": round(out["refused"] / elapsed, 1),
        "bids_per_s": round(bids / elapsed, 1),
        "bid_latency_p50_ms": round(1000 * (pct(out["latency"], 0.5) or 0), 1),
        "bid_latency_p99_ms": round(1000 * (pct(out["latency"], 0.99) or 0), 1),
        # Where the tail is: an accepted bid is a transaction with its audit event, a refused one two statements.
        "bid_latency_p50_p90_p99_ms_accepted": [
            round(1000 * (pct(out["latency_accepted"], q) or 0), 1) for q in (0.5, 0.9, 0.99)
        ],
        "bid_latency_p50_p90_p99_ms_refused": [
            round(1000 * (pct(out["latency_refused"], q) or 0), 1) for q in (0.5, 0.9, 0.99)
        ],
        **_watched(watched, accepted_ids),
        "bid_errors": out["errors"][:10],
        "bids_sent_again_after_a_closed_connection": out["retries"],
        "cpu_while_bidding": cpu_used,
        # CPU milliseconds each bid cost the server's workers and the database: what does not depend on how busy
        # the machine was, so runs on a shared machine still compare.
        "server_cpu_ms_per_bid": round(1000 * cpu_used["cpu_seconds"]["server_workers"] / max(1, bids), 2),
        "postgres_cpu_ms_per_bid": round(1000 * cpu_used["cpu_seconds"]["postgres_backends"] / max(1, bids), 2),
    }


def _watched(watched: list[tuple[list[tuple[int, float, str]], str | None]], accepted_ids: list[int]) -> dict[str, Any]:
    """What the watchers saw, checked against the accepted bids in the table."""
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
    return {
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
    }


def _run_loop(main: Any) -> Any:
    """asyncio.run on uvloop when it is installed (it is, with the server): a cheaper loop for the load generator."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


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
    parser.add_argument(
        "--warmup",
        type=float,
        default=2.0,
        help="seconds of bidding first, not counted: every bidder's connection opened, the server's pools and caches "
        "filled",
    )
    parser.add_argument(
        "--rate",
        type=float,
        help="bids a second offered on a fixed schedule (spread evenly over the bidders) instead of each bidder "
        "bidding again as soon as answered",
    )
    parser.add_argument("--watcher-processes", type=int, default=1)
    parser.add_argument("--database", default="collateral_bench_bids")
    parser.add_argument("--py-spy", metavar="DIR", help="sample the server's workers with py-spy while bidding")
    parser.add_argument("--keep-database", action="store_true", help="leave the database for a look afterwards")
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
                figures = _run_loop(run(args, base, round_id, env, server.pid))
            finally:
                keep = ROOT / "bench" / "results" / "bids-server.log"
                if log.exists():
                    keep.write_bytes(log.read_bytes()[-50_000_000:])
                server.terminate()
                try:
                    server.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    server.kill()
                if not args.keep_database:
                    drop = [*bi._psql(), "-qc", f"DROP DATABASE IF EXISTS {args.database}"]
                    subprocess.run(drop, check=False, capture_output=True)
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
    written = RESULTS.with_name(f"bids-at-{args.rate:g}.json") if args.rate else RESULTS
    written.parent.mkdir(parents=True, exist_ok=True)
    written.write_text(json.dumps(result, indent=2) + "\n")
    pace = f"{args.rate:g} bids/s offered on a schedule" if args.rate else "each bidding again once answered"
    print(
        f"hot auction: {args.bidders} bidders ({pace}), {args.watchers} watchers, {args.seconds:.0f} s, "
        f"{args.workers} workers"
    )
    for key, value in figures.items():
        print(f"  {key:<26} {value}")
    print("  targets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in met.items()))
    print(f"wrote {written.relative_to(ROOT)}")
    return 0 if figures["bids"] and not figures["bid_errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
