"""The set-based ledger writer on PostgreSQL: post_entries of 20,000 entries on 5,000 loans (each loan disbursed,
accrued, partly repaid and charged a fee), with the 20,000 audit events it writes, in one transaction.

Each run posts to 5,000 fresh loans of a scratch database made from BENCH_POSTGRES_URL's server and dropped at
the end. The machine may be shared: the load averages at start and end are recorded with the figures.
tests/integration/test_shared_writers.py posts the same book (`bulk_loans`, `life_of`).

.venv/bin/python bench/ledger.py [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import platform
import statistics
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

if TYPE_CHECKING:
    from registry.services.ledger import LedgerEntry

SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SCRATCH = f"bench_ledger_{os.getpid()}"
LOANS, DAY = 5000, date(2026, 3, 1)


async def bulk_loans(prefix: str, count: int) -> list[int]:
    """`count` loans of one borrower, written at once; their ids."""
    from registry import clock
    from registry.db import insert_rows, write_transaction
    from registry.tables import Loan, Party

    async with write_transaction():
        columns = ("ref", "name", "kind", "status", "created_at")
        (party,) = await insert_rows(Party, columns, [(prefix, "Bulk", "company", "normal", clock.now())])
        columns = ("ref", "borrower", "currency", "status", "classification", "created_at")
        rows = [(f"{prefix}-{i}", party, "CNY", "performing", "pass", clock.now()) for i in range(count)]
        return await insert_rows(Loan, columns, rows)


def life_of(loans: list[int]) -> list[LedgerEntry]:
    """Each loan disbursed, accrued, partly repaid and charged a fee: four entries a loan."""
    from registry.services.ledger import LedgerEntry

    return [
        entry
        for loan in loans
        for entry in (
            LedgerEntry(loan, "disbursement", {"principal": 1_000_000}, DAY, "drawdown"),
            LedgerEntry(loan, "accrual", {"interest": 4_500, "fees": 300}, DAY, "March"),
            LedgerEntry(loan, "repayment", {"interest": -4_500, "principal": -50_000}, DAY, "instalment"),
            LedgerEntry(loan, "repayment", {"fees": -300}, DAY, "fee"),
        )
    ]


async def _admin(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(SERVER)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _run(runs: int) -> list[float]:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from registry.db import engine, write_transaction
    from registry.services.ledger import post_entries

    await engine().start_connection_pool()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            assert (await run_forwards("all")).success
        seconds = []
        for run in range(runs):
            entries = life_of(await bulk_loans(f"RUN{run}", LOANS))
            started = time.perf_counter()
            async with write_transaction():
                await post_entries(entries, "bench")
            seconds.append(time.perf_counter() - started)
            print(f"run {run + 1}: {len(entries):,} entries on {LOANS:,} loans in {seconds[-1]:.3f} s")
        return seconds
    finally:
        await engine().close_connection_pool()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    # Before anything imports the registry: Piccolo binds its engine when the tables are imported.
    os.environ["DATABASE_URL"] = urlparse(SERVER)._replace(path=f"/{SCRATCH}").geturl()
    os.environ.setdefault("COLLATERAL_DATA_DIR", f"/tmp/{SCRATCH}")
    load_at_start = os.getloadavg()
    asyncio.run(_admin(f'CREATE DATABASE "{SCRATCH}"'))
    try:
        seconds = asyncio.run(_run(args.runs))
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)'))
    figures = {
        "entries": 4 * LOANS,
        "loans": LOANS,
        "best_s": round(min(seconds), 3),
        "median_s": round(statistics.median(seconds), 3),
        "runs_s": [round(s, 3) for s in seconds],
        "load_average_start": load_at_start,
        "load_average_end": os.getloadavg(),
        "cores": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out = Path(__file__).parent / "results" / "ledger.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
