"""The coverage book from PostgreSQL, fast and consistent (valuation.coverage_sources.book_from_database).

Each table crosses as one packed row, read by connectorx on three connections at once, and all three
read one snapshot that a fourth connection exports and holds open, as pg_dump does."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import asyncpg
import numpy as np
import polars as pl

from registry.ledger_rules import BALANCE_COMPONENTS
from valuation.coverage import BookFrames
from valuation.coverage_sources import DOUBLE_PLEDGE_SQL, POLICIES_SQL, _book

# PostgreSQL: one query per table whose single row carries each column whole, so that a million-row table
# crosses as a few large values (connectorx decodes them at memory speed; row by row it spends about a
# microsecond a row, seconds per table). Integers and dates come as arrays (dates as days since 1970),
# texts as one string joined by a unit separator, timestamps as their 8-byte binary form
# (timestamptz_send: microseconds since 2000, big-endian; a null as INT64_MIN). Every column is checked
# against the table's row count (a separator inside a text, a null text, a stored -infinity or +infinity)
# and a table that fails a check is read again row by row. The tables are read on three connections at
# once; ids come along and the rows are put in id order here if the server returned them otherwise.
# The three connections read one snapshot, exported by a fourth that holds it open, as pg_dump does:
# otherwise a write committed between two reads would give one computation half of it.
_SEP = "\x1f"
_NULL_INSTANT = -(2**63)
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in microseconds since 1970-01-01
_PACKED_READERS = 3


class _Table:
    """One table's packed read: (name, kind, column) with kind int, text, date or instant."""

    def __init__(self, table: str, columns: tuple[tuple[str, str, str], ...], order: str, where: str = "") -> None:
        self.table, self.columns, self.order, self.where = table, columns, order, where

    def packed_sql(self) -> str:
        parts = ["count(*) AS _n"]
        for name, kind, column in self.columns:
            if kind == "int":
                parts.append(f"array_agg({column}) AS {name}")
            elif kind == "date":
                parts.append(f"array_agg({column} - DATE '1970-01-01') AS {name}")
            elif kind == "text":
                parts.append(f"string_agg({column}, E'\\x1f') AS {name}, count({column}) AS _n_{name}")
            else:
                parts.append(
                    f"string_agg(COALESCE(timestamptz_send({column}), '\\x8000000000000000'::bytea), "
                    f"''::bytea) AS {name}, count({column}) AS _n_{name}"
                )
        return f"SELECT {', '.join(parts)} FROM {self.table}{self.where}"  # noqa: S608 - our own names only

    def rows_sql(self) -> str:
        names = ", ".join(f"{column} AS {name}" for name, _, column in self.columns)
        return f"SELECT {names} FROM {self.table}{self.where} ORDER BY {self.order}"  # noqa: S608 - our own names

    def unpack(self, packed: pl.DataFrame) -> pl.DataFrame | None:
        """The table's rows from its packed row; None when a check fails."""
        n = int(packed["_n"][0])
        columns: list[pl.Series] = []
        for name, kind, _ in self.columns:
            if n == 0:
                dtype = {"int": pl.Int64, "text": pl.String, "date": pl.Date}.get(kind, pl.Datetime("us", "UTC"))
                columns.append(pl.Series(name, [], dtype=dtype))
                continue
            if kind == "text":
                if int(packed[f"_n_{name}"][0]) != n:
                    return None
                column = packed[name].str.split(_SEP).explode()
            elif kind == "instant":
                instants = _instants(name, packed[name][0], n, int(packed[f"_n_{name}"][0]))
                if instants is None:
                    return None
                column = instants
            else:
                column = packed[name].explode()
                if kind == "date":
                    column = column.cast(pl.Int32).cast(pl.Date)
            if len(column) != n:
                return None
            columns.append(column.alias(name))
        frame = pl.DataFrame(columns)
        return frame if frame.is_empty() or frame[self.order].is_sorted() else frame.sort(self.order)


def _instants(name: str, blob: bytes | None, n: int, non_null: int) -> pl.Series | None:
    raw = np.frombuffer(blob or b"", dtype=">i8")
    if len(raw) != n:
        return None
    values = pl.Series(name, raw.astype(np.int64))
    null = values == _NULL_INSTANT
    if int((~null).sum()) != non_null or (non_null and int(values.filter(~null).max()) >= 2**63 - _PG_EPOCH_US):  # type: ignore[arg-type]
        return None  # a stored -infinity or +infinity: read row by row
    return pl.select(pl.when(~null).then(values + _PG_EPOCH_US).cast(pl.Datetime("us", "UTC")).alias(name)).to_series()


_PG_TABLES = {
    "loans": _Table(
        "loan",
        (
            ("loan_key", "int", "id"),
            ("loan_id", "text", "ref"),
            ("borrower", "int", "borrower"),
            ("currency", "text", "currency"),
            ("status", "text", "status"),
        ),
        "loan_key",
    ),
    "parties": _Table("party", (("borrower", "int", "id"), ("borrower_id", "text", "ref")), "borrower"),
    "postings": _Table(
        "posting", (("loan_key", "int", "loan"), *((m, "int", m) for m in BALANCE_COMPONENTS)), "loan_key"
    ),
    "assets": _Table(
        "asset",
        (
            ("asset_key", "int", "id"),
            ("asset_id", "text", "ref"),
            ("kind", "text", "kind"),
            ("status", "text", "status"),
        ),
        "asset_key",
    ),
    "valuations": _Table(
        "valuation",
        (
            ("_id", "int", "id"),
            ("asset_key", "int", "asset"),
            ("valued_on", "date", "valued_on"),
            ("market_value", "int", "market_value"),
            ("currency", "text", "currency"),
        ),
        "_id",
        " WHERE status = 'approved'",
    ),
    "liens": _Table(
        "lien",
        (
            ("lien_key", "int", "id"),
            ("lien_id", "text", "ref"),
            ("asset_key", "int", "asset"),
            ("holder", "text", "holder"),
            ("status", "text", "status"),
            ("perfected_at", "instant", "perfected_at"),
            ("cap", "int", "cap"),
            ("external_claim", "int", "external_claim"),
            ("expires_on", "date", "expires_on"),
            ("currency", "text", "currency"),
        ),
        "lien_key",
    ),
    "lien_loans": _Table(
        "lien_loan", (("_id", "int", "id"), ("lien_key", "int", "lien"), ("loan_key", "int", "loan")), "_id"
    ),
}


@contextmanager
def _exported_snapshot(uri: str) -> Iterator[str]:
    """A snapshot of the database, held open (a REPEATABLE READ transaction) until the block ends, for other
    transactions to read with `SET TRANSACTION SNAPSHOT`. Blocking: its own connection on its own event loop."""
    loop = asyncio.new_event_loop()
    try:
        connection = loop.run_until_complete(asyncpg.connect(uri))
        try:
            loop.run_until_complete(connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"))
            yield loop.run_until_complete(connection.fetchval("SELECT pg_export_snapshot()"))
        finally:
            loop.run_until_complete(connection.close())
    finally:
        loop.close()


def _read(query: str, uri: str, before: Sequence[str] = ()) -> pl.DataFrame:
    """One query through connectorx, after `before` on the same connection."""
    return pl.read_database_uri(query, uri, engine="connectorx", pre_execution_query=list(before) or None)


def postgres_book(uri: str) -> BookFrames:
    """The whole book from PostgreSQL, every table read in one exported snapshot. Blocking."""
    with _exported_snapshot(uri) as snapshot:
        # Each read's own transaction starts in the exported snapshot (the id is the server's, not input).
        in_snapshot = ("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        return _postgres_book_in(uri, in_snapshot)


def _postgres_book_in(uri: str, in_snapshot: Sequence[str]) -> BookFrames:
    def read(query: str) -> pl.DataFrame:
        return _read(query, uri, in_snapshot)

    def table(name: str) -> pl.DataFrame:
        spec = _PG_TABLES[name]
        frame = spec.unpack(read(spec.packed_sql()))
        if frame is None:
            frame = read(spec.rows_sql())
        return frame

    # The largest first, so that the three connections finish together.
    with ThreadPoolExecutor(max_workers=_PACKED_READERS) as pool:
        reads = {
            name: pool.submit(table, name)
            for name in ("liens", "valuations", "lien_loans", "assets", "loans", "postings", "parties")
        }
        policies, double = pool.submit(read, POLICIES_SQL), pool.submit(read, DOUBLE_PLEDGE_SQL)
        frames = {name: future.result() for name, future in reads.items()}
    balances = frames["postings"].group_by("loan_key").agg(pl.col(m).cast(pl.Int128).sum() for m in BALANCE_COMPONENTS)
    loans = (
        frames["loans"]
        .join(frames["parties"], on="borrower", how="inner", maintain_order="left")
        .join(balances, on="loan_key", how="left", maintain_order="left")
        .select(
            "loan_key",
            "loan_id",
            "borrower_id",
            "currency",
            *(pl.col(m).fill_null(0).cast(pl.Int64) for m in BALANCE_COMPONENTS),
            "status",
        )  # strict: no wrap
    )
    liens = frames["liens"]
    return _book(
        loans=loans,
        assets=frames["assets"],
        valuations=frames["valuations"].drop("_id").with_columns(pl.lit("approved").alias("status")),
        policies=policies.result(),
        liens=liens.with_columns(
            pl.col("perfected_at").cast(pl.Datetime("us", "UTC")), pl.col("expires_on").cast(pl.Date)
        ),
        lien_loans=frames["lien_loans"].drop("_id"),
        double=double.result(),
    )
