"""The import's peer: a plain COPY of the same book files into bare text tables, nothing else.

    python bench/copy_peer.py DIR DATABASE_URL

Reads each of the seven files with Polars (as the import does), creates one table per file with every column
TEXT (no key, no constraint, no index) and COPYs the rows in as CSV, all in one transaction. No check, no
reference, no type: what PostgreSQL itself takes to swallow the same rows, which is the floor `collateral import`
is held to (issue 11 item 5). bench/import.py runs it as a subprocess, timed exactly as the import is, into a
fresh database of its own; `peer_runs` below is the bench side.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

FILES = ("parties", "loans", "assets", "policies", "valuations", "liens", "lien_loans")
PEER_DATABASE = "collateral_peer_import"


def _frame(directory: Path, name: str) -> pl.DataFrame:
    for fmt in ("parquet", "csv"):
        path = directory / f"{name}.{fmt}"
        if path.exists():
            return pl.read_parquet(path) if fmt == "parquet" else pl.read_csv(path, infer_schema=False)
    raise SystemExit(f"{directory} has no {name}.parquet or {name}.csv")


async def copy_book(directory: Path, url: str) -> dict[str, int]:
    import asyncpg  # the app's own driver; imported here so `--help` needs none of it

    connection = await asyncpg.connect(url)
    counts: dict[str, int] = {}
    try:
        async with connection.transaction():
            for name in FILES:
                frame = _frame(directory, name)
                columns = ", ".join(f'"{c}" TEXT' for c in frame.columns)
                await connection.execute(f"CREATE TABLE peer_{name} ({columns})")
                buffer = io.BytesIO()
                frame.write_csv(buffer, include_header=False)
                buffer.seek(0)
                await connection.copy_to_table(f"peer_{name}", source=buffer, columns=frame.columns, format="csv")
                counts[name] = frame.height
    finally:
        await connection.close()
    return counts


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    counts = asyncio.run(copy_book(Path(argv[0]), argv[1]))
    print("copied " + ", ".join(f"{n}: {c}" for n, c in counts.items()))
    return 0


# --- the bench side (bench/import.py) ---------------------------------------------------------------------------


def fresh_peer_database(psql: Callable[..., list[str]], env: dict[str, str]) -> str:
    subprocess.run(
        [
            *psql(),
            "-c",
            f"DROP DATABASE IF EXISTS {PEER_DATABASE} WITH (FORCE)",
            "-c",
            f"CREATE DATABASE {PEER_DATABASE}",
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    return f"postgresql://postgres@127.0.0.1:5432/{PEER_DATABASE}"


def drop_peer_database(psql: Callable[..., list[str]], env: dict[str, str]) -> None:
    subprocess.run(
        [*psql(), "-c", f"DROP DATABASE IF EXISTS {PEER_DATABASE} WITH (FORCE)"],
        check=False,
        capture_output=True,
        env=env,
    )


def peer_counts(psql: Callable[..., list[str]], env: dict[str, str]) -> dict[str, int] | None:
    query = "SELECT " + ", ".join(f"(SELECT count(*) FROM peer_{f})" for f in FILES)
    done = subprocess.run(
        [*psql(PEER_DATABASE), "-tAc", query],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if done.returncode != 0:
        return None
    return dict(zip(FILES, (int(v) for v in done.stdout.strip().split("|")), strict=True))


def peer_run(
    measure: Callable[..., Any],
    python: str,
    book_dir: str,
    psql: Callable[..., list[str]],
    env: dict[str, str],
    timeout: float,
) -> tuple[Any, dict[str, int] | None]:
    """One timed peer run into a fresh database (created before the clock starts, as the import's is)."""
    url = fresh_peer_database(psql, env)
    run = measure([python, "bench/copy_peer.py", book_dir, url], env, timeout)
    counts = peer_counts(psql, env)
    drop_peer_database(psql, env)
    return run, counts


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
