"""The few raw-SQL operations bulk work needs, the same on both engines.

Bulk paths bypass the ORM on purpose: rows go into temporary staging tables (PostgreSQL COPY,
SQLite executemany) and then into the real tables with set-based INSERT ... ON CONFLICT statements,
all on the connection of the caller's Piccolo transaction, so the audit event written through
Piccolo commits or rolls back with them."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import anyio
import polars as pl

from registry.db import engine, is_postgres

SQL_TYPES = {"text": "TEXT", "bigint": "BIGINT"}


class BulkDb:
    def __init__(self, connection: Any, postgres: bool) -> None:
        self.connection = connection
        self.postgres = postgres
        self._staged: list[str] = []
        self.fresh: set[str] = set()  # tables that were empty and lost their unique indexes for the load
        self._ids: dict[str, pl.DataFrame] = {}  # (ref, id) of every row COPYed into a fresh table
        self._blocks: dict[str, tuple[int, int]] = {}  # ids reserved per fresh table: [start, end)
        self._copying: asyncio.Task[Any] | None = None  # the COPY still running while Python prepares the next

    @classmethod
    def of_current_transaction(cls) -> BulkDb:
        transaction = engine().current_transaction.get()
        if transaction is None:
            raise RuntimeError("bulk work must run inside registry.db.write_transaction()")
        return cls(transaction.connection, is_postgres())

    def param(self, n: int) -> str:
        return f"${n}" if self.postgres else f"?{n}"

    def as_timestamp(self, expr: str) -> str:
        return f"CAST({expr} AS TIMESTAMPTZ)" if self.postgres else expr

    def as_text(self, expr: str) -> str:
        return f"CAST({expr} AS TEXT)" if self.postgres else expr

    def as_date(self, expr: str) -> str:
        return f"CAST({expr} AS DATE)" if self.postgres else expr

    def timestamp_param(self, value: datetime) -> Any:
        # asyncpg binds datetimes; SQLite gets the text Piccolo itself stores.
        return value if self.postgres else value.astimezone(UTC).isoformat(sep=" ")

    def date_param(self, value: date) -> Any:
        return value if self.postgres else value.isoformat()

    async def drain(self) -> None:
        """Wait for the COPY in flight (its error, if any, raises here): the connection runs one thing at a time."""
        if self._copying is not None:
            task, self._copying = self._copying, None
            await task

    async def abandon(self) -> None:
        """After a failure elsewhere: let the COPY in flight end, whatever it gives, so the rollback can run."""
        # The failure being handled is the one to report; the COPY's own error would only hide it.
        with contextlib.suppress(Exception):
            await self.drain()

    async def execute(self, sql: str, *args: Any) -> int:
        """Run one statement; the number of rows it touched."""
        await self.drain()
        if self.postgres:
            status: str = await self.connection.execute(sql, *args)
            last = status.rsplit(" ", 1)[-1]
            return int(last) if last.isdigit() else 0
        cursor = await self.connection.execute(sql, args)
        count = cursor.rowcount
        await cursor.close()
        return max(int(count), 0)

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        await self.drain()
        if self.postgres:
            return [tuple(r) for r in await self.connection.fetch(sql, *args)]
        # Piccolo gives its SQLite connections a dict row factory; bulk reads want plain tuples
        # (and two columns may share a name, as `l.ref, p.ref` do).
        previous = self.connection.row_factory
        self.connection.row_factory = None
        try:
            cursor = await self.connection.execute(sql, args)
            rows = await cursor.fetchall()
            await cursor.close()
        finally:
            self.connection.row_factory = previous
        return [tuple(r) for r in rows]

    async def frame(self, sql: str, schema: dict[str, Any], *args: Any) -> pl.DataFrame:
        return pl.DataFrame(await self.fetch(sql, *args), schema=schema, orient="row")

    async def stage(self, name: str, frame: pl.DataFrame, types: dict[str, str]) -> None:
        """A temporary table holding `frame` (columns in `types` order)."""
        columns = list(types)
        ddl = ", ".join(f"{c} {SQL_TYPES[t]}" for c, t in types.items())
        await self.execute(f"DROP TABLE IF EXISTS {name}")
        await self.execute(f"CREATE TEMPORARY TABLE {name} ({ddl})")
        self._staged.append(name)
        if frame.is_empty():
            return
        frame = frame.select(columns)
        await self.drain()
        if self.postgres:
            buffer = io.BytesIO()
            frame.write_csv(buffer, include_header=False)
            buffer.seek(0)
            await self.connection.copy_to_table(name, source=buffer, columns=columns, format="csv")
            # Autovacuum never sees temporary tables; without statistics the planner guesses badly.
            await self.execute(f"ANALYZE {name}")
        else:
            placeholders = ", ".join("?" for _ in columns)
            await self.connection.executemany(
                f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({placeholders})", frame.iter_rows()
            )

    async def copy_frame(self, table: str, frame: pl.DataFrame) -> int:
        """COPY `frame` straight into `table` (PostgreSQL), its columns by name; the number of rows.

        CSV rather than binary: Polars writes it in C on every core, where binary records would cost a Python
        tuple per row; an empty string is written quoted, so it stays empty and only a null becomes NULL. The
        CSV is written in a worker thread while the previous COPY still runs, and this COPY is left running
        while the caller prepares the next (the next statement, or `drain`, waits for it): PostgreSQL and
        Python each keep one of two cores busy instead of taking turns."""
        if frame.is_empty():
            return 0

        def as_csv() -> io.BytesIO:
            buffer = io.BytesIO()
            frame.write_csv(buffer, include_header=False)
            buffer.seek(0)
            return buffer

        buffer = await anyio.to_thread.run_sync(as_csv)
        await self.drain()
        self._copying = asyncio.ensure_future(
            self.connection.copy_to_table(table, source=buffer, columns=frame.columns, format="csv")
        )
        return frame.height

    async def reserve_block(self, table: str, count: int) -> None:
        """Take `count` ids of `table`'s sequence now, for `reserve_ids` to hand out later without a round
        trip (which would have to wait for the COPY in flight). Only for a fresh table: dropping its
        constraints locked it for this transaction, so no other writer draws from the sequence in between
        (and one that does after gets an id past the block)."""
        if count == 0:
            return
        sequence = f"pg_get_serial_sequence('{table}', 'id')"
        start = int((await self.fetch(f"SELECT nextval({sequence})"))[0][0])
        if count > 1:
            await self.execute(f"SELECT setval({sequence}, {start + count - 1})")
        self._blocks[table] = (start, start + count)

    async def reserve_ids(self, table: str, count: int) -> int:
        """The first of `count` consecutive ids of a fresh `table`, for rows the caller numbers itself: from
        the block reserved beforehand when it is big enough (ids left unused in it are a gap, as a rolled
        back insert leaves), else from the sequence."""
        start, end = self._blocks.pop(table, (0, 0))
        if count <= end - start:
            return start
        await self.reserve_block(table, count)
        return self._blocks.pop(table)[0] if count else 0

    async def numbered(self, table: str, frame: pl.DataFrame) -> pl.DataFrame:
        """`frame` with ids of a fresh `table` drawn for its rows (reserve_ids, then number)."""
        return self.number(table, frame, await self.reserve_ids(table, frame.height))

    async def ids_of(self, table: str, refs: pl.Series, id_column: str) -> pl.DataFrame:
        """(refs' column name, id_column): the ids of `table`'s rows these refs name, ready to join on the refs."""
        return (await self.ref_ids(table, refs)).rename({"ref": refs.name, "id": id_column})

    def number(self, table: str, frame: pl.DataFrame, start: int) -> pl.DataFrame:
        """`frame` with ids from `start` on, remembered by ref (when it has one) for the files that refer to it."""
        frame = frame.with_row_index("id", offset=start).with_columns(pl.col("id").cast(pl.Int64))
        if "ref" in frame.columns:
            self._ids[table] = frame.select("ref", "id")
        return frame

    async def ref_ids(self, table: str, refs: pl.Series) -> pl.DataFrame:
        """(ref, id) of the rows of `table` named by `refs`: from this import's own numbering when it loaded the
        table fresh, else from the database."""
        if table in self._ids:
            return self._ids[table]
        distinct = refs.unique().to_list()
        found = await self.by_ref(table, "id", distinct)
        return pl.DataFrame({"ref": list(found), "id": list(found.values())}, schema={"ref": pl.String, "id": pl.Int64})

    def track(self, name: str) -> None:
        """A temporary table made by hand, to drop with the staging tables."""
        self._staged.append(name)

    async def stage_values(self, name: str, values: Sequence[str]) -> None:
        await self.stage(name, pl.DataFrame({"value": list(values)}, schema={"value": pl.String}), {"value": "text"})

    async def is_empty(self, table: str) -> bool:
        """Lookups against an empty table (a first import) can be skipped outright. A table found empty for
        the load (`fresh`) stays so for this question, rows the import COPYs into it or not: its preparation
        then needs no round trip, which would wait for the COPY in flight."""
        if table in self.fresh:
            return True
        return not await self.fetch(f"SELECT 1 FROM {table} LIMIT 1")

    def conflict(self, table: str, clause: str) -> str:
        """The upsert's ON CONFLICT clause, or nothing for a table loaded fresh: its rows are new by
        construction (duplicates were refused in validation), and it has no unique index to arbitrate."""
        return "" if table in self.fresh else clause

    async def defer_secondary_structures(self, tables: Sequence[str]) -> list[tuple[str, str]]:
        """Bulk-load trick for PostgreSQL (as pg_restore does): on tables that are empty, drop every
        index but the primary key, and the foreign keys, and return the statements that rebuild them.

        Building an index once over a million sorted rows is many times faster than growing it row
        by row, and a foreign key is re-validated in one join when it is added back (a unique one
        re-checks uniqueness as it builds). Everything is inside the import's transaction, so a
        failure restores them with the rest. Each statement comes with a label (table and name) for the
        import's per-step timings."""
        if not self.postgres:
            return []
        rebuild: list[tuple[str, str]] = []
        for table in tables:
            if not await self.is_empty(table):
                continue
            self.fresh.add(table)
            constraints = await self.fetch(
                "SELECT conname, pg_get_constraintdef(oid), contype FROM pg_constraint "
                "WHERE conrelid = to_regclass($1) AND contype IN ('f', 'u') ORDER BY contype DESC",
                table,
            )
            indexes = await self.fetch(
                """SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                   WHERE x.indrelid = to_regclass($1) AND NOT x.indisprimary
                     AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)""",
                table,
            )
            for name, definition, _kind in constraints:
                await self.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                rebuild.append((f"{table} {name}", f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))
            for name, definition in indexes:
                await self.execute(f'DROP INDEX "{name}"')
                rebuild.append((f"{table} {name}", definition))
        if rebuild:
            await self.execute("SET LOCAL maintenance_work_mem = '512MB'")
            # Re-adding a foreign key checks it with one join of the two tables: in memory, not in batches
            # spilled to disk as the default 4 MB makes it for a million rows.
            await self.execute("SET LOCAL work_mem = '256MB'")
        return rebuild

    async def by_ref(self, table: str, column: str, refs: Sequence[str]) -> dict[str, Any]:
        """`column` of the rows of `table` named by `refs` (those that exist), looked up in one join."""
        if not refs:
            return {}
        await self.stage_values("lookup_refs", refs)
        return dict(await self.fetch(f"SELECT t.ref, t.{column} FROM {table} t JOIN lookup_refs v ON v.value = t.ref"))

    async def drop_staging(self) -> None:
        for name in self._staged:
            await self.execute(f"DROP TABLE IF EXISTS {name}")
        self._staged.clear()
