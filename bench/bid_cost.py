"""The server's CPU per bid, in process: the app called straight through ASGI, one bid at a time, on PostgreSQL.

    python bench/bid_cost.py [--bids 3000] [--bidders 50] [--profile] [--database NAME]

bench/bids.py measures a hot round through HTTP on a shared 2-core machine, where the figures move with whatever
else runs. This measures what a bid costs the app itself: a fresh database seeded with one round bidding now
(`python -m tests.live_seed`), the app built by `create_app` with Redis (COLLATERAL_REDIS_URL, database 14, as the
two-worker server has it) and driven by hand-made ASGI calls, so no HTTP client or server shares the profile. Each
bidder bids the price it last saw plus one to three increments, round robin, so most bids are refused (as on a hot
round) and some accepted. Prints CPU milliseconds per bid (process time, which the machine's load hardly moves)
and wall milliseconds per bid; with --profile, the functions that took the CPU (cProfile on process time)."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _psql(database: str = "postgres") -> list[str]:
    return ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-q"]


async def call(app: Any, method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, bytes]:
    """One request through the app's ASGI interface: (status, body)."""
    payload = json.dumps(body).encode()
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw += [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), *raw],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = False
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": payload, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def _units(text: str) -> int:
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int(frac or 0)


async def measure(args: argparse.Namespace, round_id: int) -> dict[str, Any]:
    from asgi_lifespan import LifespanManager

    from app import create_app

    app = create_app(round_sweep_seconds=0)
    async with LifespanManager(app):
        names = ["alice", "bob", *(f"bidder{i:03d}" for i in range(args.bidders - 2))]
        tokens = []
        for name in names:
            status, body = await call(
                app, "POST", "/api/auth/login", {}, {"username": name, "password": f"{name}-password"}
            )
            assert status == 200, body
            tokens.append(f"Bearer {json.loads(body)['access_token']}")
        rng = random.Random(1)
        seen = [100_000_00] * len(tokens)
        url = f"/api/rounds/{round_id}/bids"
        counts = {201: 0, 409: 0, 422: 0}
        profile = cProfile.Profile(time.process_time) if args.profile else None
        # A few bids first: the statement caches and the pool warm up outside the measure.
        plan = [(i % len(tokens), i) for i in range(args.bids + 50)]
        cpu0 = wall0 = 0.0
        for n, (who, i) in enumerate(plan):
            if n == 50:
                cpu0, wall0 = time.process_time(), time.perf_counter()
                if profile is not None:
                    profile.enable()
            amount = seen[who] + 1_000_00 * rng.randint(1, 3)
            headers = {"Authorization": tokens[who], "Idempotency-Key": f"k{i}"}
            status, body = await call(app, "POST", url, headers, {"amount": f"{amount // 100}.{amount % 100:02d}"})
            answer = json.loads(body)
            if n >= 50:
                counts[status] = counts.get(status, 0) + 1
            if answer.get("current_price"):
                seen[who] = _units(answer["current_price"])
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        if profile is not None:
            profile.disable()
            stats = pstats.Stats(profile)
            stats.sort_stats("cumulative").print_stats(args.top)
            stats.sort_stats("tottime").print_stats(args.top)
    return {
        "bids": args.bids,
        "answers": counts,
        "cpu_ms_per_bid": round(1000 * cpu / args.bids, 3),
        "wall_ms_per_bid": round(1000 * wall / args.bids, 3),
        "profiled": bool(profile),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bids", type=int, default=3000)
    parser.add_argument("--bidders", type=int, default=50)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--database", default="collateral_bench_bids_cost")
    args = parser.parse_args(argv)
    subprocess.run([*_psql(), "-c", f"DROP DATABASE IF EXISTS {args.database}"], check=True)
    subprocess.run([*_psql(), "-c", f"CREATE DATABASE {args.database}"], check=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ.update(
                {
                    "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{args.database}",
                    "COLLATERAL_DATA_DIR": tmp,
                    "COLLATERAL_SECRET_KEY": "bench-bids-secret-key-of-at-least-32-bytes",
                    "COLLATERAL_AUDIT_KEY": "bench-bids-audit-key-of-at-least-32-bytes",
                    "COLLATERAL_REDIS_URL": "redis://127.0.0.1:6379/14",
                    "COLLATERAL_LOGIN_ATTEMPTS_PER_MINUTE": "100000",
                }
            )
            seeded = subprocess.run(
                [sys.executable, "-m", "tests.live_seed", str(args.bidders - 2), "3.0"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            round_id = int(seeded.stdout.split()[-1])
            result = asyncio.run(measure(args, round_id))
    finally:
        subprocess.run([*_psql(), "-c", f"DROP DATABASE IF EXISTS {args.database}"], check=False)
    result["load_average_1_5_15_min"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
