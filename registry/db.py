"""Transactions that behave the same on both engines."""

from __future__ import annotations

from typing import Any

from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.table import Table

from registry.tables import AuditEvent


def engine() -> Any:
    return AuditEvent._meta.db


def is_postgres() -> bool:
    return isinstance(engine(), PostgresEngine)


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


async def lock_row(table: type[Table], row_id: int) -> None:
    """Serialise writers on one row for the rest of the transaction.

    PostgreSQL takes a row lock; SQLite's IMMEDIATE transaction already holds the database write lock.
    """
    if is_postgres():
        await table.raw(f"SELECT id FROM {table._meta.tablename} WHERE id = {{}} FOR UPDATE", row_id)  # noqa: S608 - table names come from our own Table classes


async def lock_named(key: int) -> None:
    """A transaction-scoped lock on a name rather than a row (PostgreSQL advisory lock)."""
    if is_postgres():
        await AuditEvent.raw("SELECT pg_advisory_xact_lock({})", key)
