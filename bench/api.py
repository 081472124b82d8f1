"""Mixed reads at a fixed rate against the demo book on PostgreSQL with two workers: latency percentiles and errors.

    python bench/api.py [--rate 200] [--seconds 60] [--workers 2] [--database collateral_bench_api]

1. A fresh PostgreSQL database, `collateral serve --demo --workers N` on it (Redis at 127.0.0.1:6379, database 13,
   carries live events between the workers), on a free port.
2. In this process, open loop: request i is sent at start + i / rate whatever the answers before it (a closed loop
   would wait for slow answers and hide them). The mix is what the roles read all day: a page of loans, a loan, a
   page of assets, an asset, the coverage summary, a loan's coverage, the disposal cases, the public auctions and
   /health, each as a role allowed to read it, over the demo book's refs.
3. Prints and writes bench/results/api.json: requests sent, errors (any status other than 200, or no answer),
   latency p50/p95/p99/max overall and p99 per kind, and how late the generator sent its requests (p99), which
   says whether the figures measure the service or a starved load generator. Target (issue 13, this 2-core machine,
   load generator included): p99 <= 50 ms, 0 errors.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "api.json"
TARGETS = {"p99_ms": 50.0, "errors": 0}


def _bench_import() -> Any:
    spec = importlib.util.spec_from_file_location("bench_import", ROOT / "bench" / "import.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_import"] = module
    spec.loader.exec_module(module)
    return module


bi = _bench_import()


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _token(client: httpx.AsyncClient, role: str) -> dict[str, str]:
    # The demo creates one user per role, named after it, with the password demo-<role>.
    r = await client.post("/api/auth/login", json={"username": role, "password": f"demo-{role}"})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _refs(client: httpx.AsyncClient, path: str, headers: dict[str, str], key: str = "ref") -> list[str]:
    r = await client.get(path, headers=headers, params={"page_size": 100})
    r.raise_for_status()
    return [item[key] for item in r.json()["items"]]


async def mix(client: httpx.AsyncClient) -> list[tuple[str, int, Any]]:
    """(kind, weight, function of a random generator answering (path, headers))."""
    credit, manager = await _token(client, "credit_officer"), await _token(client, "asset_manager")
    officer = await _token(client, "disposal_officer")
    loans = await _refs(client, "/api/loans", credit)
    assets = await _refs(client, "/api/assets", manager)
    # Coverage covers the loans still owing: closed and repaid ones have no coverage row.
    covered = await _refs(client, "/api/coverage/loans", credit, key="loan_id")
    return [
        ("health", 5, lambda rng: ("/health", {})),
        ("loans page", 15, lambda rng: (f"/api/loans?page={rng.randint(1, 4)}", credit)),
        ("loan", 20, lambda rng: (f"/api/loans/{rng.choice(loans)}", credit)),
        ("assets page", 10, lambda rng: (f"/api/assets?page={rng.randint(1, 3)}", manager)),
        ("asset", 15, lambda rng: (f"/api/assets/{rng.choice(assets)}", manager)),
        ("coverage summary", 10, lambda rng: ("/api/coverage/summary", credit)),
        ("loan coverage", 15, lambda rng: (f"/api/coverage/loans/{rng.choice(covered)}", credit)),
        ("disposal cases", 5, lambda rng: ("/api/disposals", officer)),
        ("public auctions", 5, lambda rng: ("/api/public/auctions", {})),
    ]


async def run(base: str, rate: float, seconds: float) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        kinds = await mix(client)
        rng = random.Random(13)
        weights = [w for _, w, _ in kinds]
        # Warm each kind once, as a running service is: the first coverage read computes the book.
        for _kind, _, make in kinds:
            path, headers = make(rng)
            (await client.get(path, headers=headers)).raise_for_status()
        latency: dict[str, list[float]] = defaultdict(list)
        late: list[float] = []
        errors: list[str] = []

        async def one(kind: str, path: str, headers: dict[str, str], due: float) -> None:
            started = time.perf_counter()
            late.append(started - due)
            try:
                r = await client.get(path, headers=headers)
            except httpx.HTTPError as exc:
                errors.append(f"{kind} {path}: {exc!r}")
                return
            latency[kind].append(time.perf_counter() - started)
            if r.status_code != 200:
                errors.append(f"{kind} {path}: {r.status_code} {r.text[:200]}")

        tasks = []
        t0 = time.perf_counter()
        for i in range(int(rate * seconds)):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            kind, _, make = rng.choices(kinds, weights)[0]
            path, headers = make(rng)
            tasks.append(asyncio.create_task(one(kind, path, headers, due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
    every = [x for values in latency.values() for x in values]
    return {
        "requests": len(tasks),
        "achieved_rate_per_s": round(len(tasks) / elapsed, 1),
        "errors": len(errors),
        "first_errors": errors[:10],
        "p50_ms": round(1000 * pct(every, 0.50), 1),
        "p95_ms": round(1000 * pct(every, 0.95), 1),
        "p99_ms": round(1000 * pct(every, 0.99), 1),
        "max_ms": round(1000 * max(every, default=0), 1),
        "p99_ms_by_kind": {k: round(1000 * pct(v, 0.99), 1) for k, v in sorted(latency.items())},
        "generator_late_p99_ms": round(1000 * pct(late, 0.99), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", default="collateral_bench_api")
    args = parser.parse_args(argv)
    for sql in (f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)", f"CREATE DATABASE {args.database}"):
        subprocess.run([*bi._psql(), "-qc", sql], check=True, capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{args.database}",
            "COLLATERAL_DATA_DIR": tmp,
            "COLLATERAL_SECRET_KEY": "bench-api-secret-key-of-at-least-32-bytes",
            "COLLATERAL_REDIS_URL": "redis://127.0.0.1:6379/13",
            "COLLATERAL_LOGIN_ATTEMPTS_PER_MINUTE": "100000",
        }
        log = Path(tmp) / "server.log"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [bi._collateral(), "serve", "--demo", "--port", str(port), "--workers", str(args.workers)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            base = f"http://127.0.0.1:{port}"
            try:
                for _ in range(1200):
                    try:
                        if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.25)
                else:
                    raise SystemExit(f"server did not start: {log.read_text()[-3000:]}")
                figures = asyncio.run(run(base, args.rate, args.seconds))
            finally:
                server.terminate()
                try:
                    server.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    server.kill()
    met = {"p99_ms": figures["p99_ms"] <= TARGETS["p99_ms"], "errors": figures["errors"] == TARGETS["errors"]}
    result = {
        "args": vars(args),
        "figures": figures,
        "targets": TARGETS,
        "met": met,
        "machine": bi.machine(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"api: mixed reads at {args.rate:.0f}/s for {args.seconds:.0f} s, {args.workers} workers, PostgreSQL demo")
    for key, value in figures.items():
        print(f"  {key:<24} {value}")
    print("  targets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in met.items()))
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
