"""Transactions, locks and set-based writes that behave the same on both engines."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.table import Table

from registry.config import get_settings
from registry.tables import AuditEvent


def engine() -> Any:
    return AuditEvent._meta.db


def is_postgres() -> bool:
    return isinstance(engine(), PostgresEngine)


def pool_options() -> dict[str, Any]:
    """The PostgreSQL request pool's size and statement timeout (COLLATERAL_PG_POOL_MIN, COLLATERAL_PG_POOL_MAX,
    COLLATERAL_PG_STATEMENT_TIMEOUT_MS). Only the server's pool has the timeout: the command line (migrate,
    import, export, audit verify) opens its own connections, and bulk work inside a request lifts it
    (`no_statement_timeout`), since a large book takes long by nature."""
    settings = get_settings()
    options: dict[str, Any] = {"min_size": min(settings.pg_pool_min, settings.pg_pool_max)}
    options["max_size"] = settings.pg_pool_max
    options["reset"] = keep_session
    if settings.pg_statement_timeout_ms:
        options["server_settings"] = {"statement_timeout": str(settings.pg_statement_timeout_ms)}
    return options


async def keep_session(connection: Any) -> None:
    """The pool's reset on release: nothing beyond what asyncpg always does (roll back an open transaction, drop
    listeners), so no round trip. The default sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL;` on every release, one more round trip for each query run outside a transaction; the service
    changes no session state (settings are SET LOCAL, advisory locks are transaction locks, no LISTEN or
    cursors), so there is nothing for it to undo."""


async def no_statement_timeout() -> None:
    """Inside a transaction: its statements run without the pool's statement timeout (PostgreSQL)."""
    if is_postgres():
        await AuditEvent.raw("SET LOCAL statement_timeout = 0")


def write_transaction() -> Any:
    """A transaction for read-then-write work.

    SQLite's default DEFERRED transaction fails with "database is locked" when two writers both read
    first; IMMEDIATE takes the write lock up front so writers queue instead (piccolo#687).
    Nested calls join the outer transaction.
    """
    db = engine()
    if isinstance(db, SQLiteEngine):
        return db.transaction(transaction_type=TransactionType.immediate)
    return db.transaction()


# SQLite binds at most 32766 parameters to one statement; a multi-row insert is cut to stay below.
_SQLITE_MAX_PARAMETERS = 30_000
# From this many rows a PostgreSQL insert goes by COPY (see insert_rows).
_COPY_FROM = 1000


def id_in(ids: Sequence[int]) -> tuple[str, Any]:
    """A condition on an id column matching any of `ids`, bound as one parameter whatever their number:
    `= ANY($1)` over an array on PostgreSQL, `IN (SELECT value FROM json_each(?))` on SQLite."""
    if is_postgres():
        return "= ANY({})", list(ids)
    return "IN (SELECT value FROM json_each({}))", json.dumps(list(ids))


async def lock_rows(table: type[Table], ids: Sequence[int], columns: Sequence[str] = ("id",)) -> list[dict[str, Any]]:
    """Lock the rows named by `ids` for the rest of the transaction and read `columns` of each, by id.

    PostgreSQL: one `SELECT ... ORDER BY id FOR UPDATE`, which takes the row locks in id order, so two
    writers locking overlapping sets queue instead of deadlocking. SQLite's IMMEDIATE transaction already
    holds the database write lock, so there it is a plain read. Ids that name no row are left out.
    """
    if not ids:
        return []
    condition, param = id_in(ids)
    lock = " FOR UPDATE" if is_postgres() else ""
    # Table and column names come from our own Table classes; the ids travel as a parameter.
    sql = f"SELECT {', '.join(columns)} FROM {table._meta.tablename} WHERE id {condition} ORDER BY id{lock}"  # noqa: S608
    return list(await table.raw(sql, param))


async def lock_row(table: type[Table], row_id: int) -> None:
    """Serialise writers on one row for the rest of the transaction (nothing to do on SQLite)."""
    if is_postgres():
        await lock_rows(table, [row_id])


async def insert_rows(table: type[Table], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[int]:
    """Insert many rows at once, in the caller's write transaction (or a new one); their ids, in the order of `rows`.

    PostgreSQL: one `INSERT ... SELECT` over `unnest` of one array per column, in input order; from
    _COPY_FROM rows, the ids are drawn from the table's sequence in one query and the rows go in by binary
    COPY, which is faster for many rows but costs two more round trips. SQLite: multi-row VALUES, in as few
    statements as its parameter limit allows. Either way ids grow in insertion order, so sorted they are the
    input order. Values always travel as data, never spliced into SQL.
    """
    if not rows:
        return []
    name, names = table._meta.tablename, ", ".join(columns)
    if is_postgres() and len(rows) >= _COPY_FROM:
        async with write_transaction():  # joins the caller's; COPY needs the transaction's own connection
            connection = engine().current_transaction.get().connection
            drawn = await connection.fetch(
                "SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2)", name, len(rows)
            )
            ids = sorted(int(r[0]) for r in drawn)
            records = [(row_id, *row) for row_id, row in zip(ids, rows, strict=True)]
            await connection.copy_records_to_table(name, records=records, columns=["id", *columns])
        return ids
    # Table and column names come from our own Table classes.
    if is_postgres():
        arrays = [list(values) for values in zip(*rows, strict=True)]
        casts = ", ".join(f"{{}}::{table._meta.get_column_by_name(c).column_type}[]" for c in columns)
        sql = (
            f"INSERT INTO {name} ({names}) SELECT {names} FROM unnest({casts}) "  # noqa: S608
            f"WITH ORDINALITY AS given({names}, ordinal) ORDER BY ordinal RETURNING id"
        )
        inserted = await table.raw(sql, *arrays)
        return sorted(int(r["id"]) for r in inserted)
    per_statement = max(1, _SQLITE_MAX_PARAMETERS // len(columns))
    placeholders = "(" + ", ".join("{}" for _ in columns) + ")"
    inserted = []
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        values = ", ".join(placeholders for _ in chunk)
        sql = f"INSERT INTO {name} ({names}) VALUES {values} RETURNING id"  # noqa: S608
        inserted += await table.raw(sql, *(value for row in chunk for value in row))
    return sorted(int(r["id"]) for r in inserted)


async def lock_named(key: int) -> None:
    """A transaction-scoped lock on a name rather than a row (PostgreSQL advisory lock)."""
    if is_postgres():
        await AuditEvent.raw("SELECT pg_advisory_xact_lock({})", key)
