"""The service's start-up and shutdown around the database: the PostgreSQL pool, SQLite's journal mode, and
the start-up heap moved out of the collector's way."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from registry.db import engine, is_postgres, pool_options
from registry.tables import AuditEvent


@asynccontextmanager
async def database_lifespan(_app: Litestar) -> AsyncIterator[None]:
    db = engine()
    if is_postgres():
        await db.start_connection_pool(**pool_options())
        try:
            yield
        finally:
            await db.close_connection_pool()
    else:
        # WAL lets readers proceed while one writer commits; it is a property of the file, set once.
        await AuditEvent.raw("PRAGMA journal_mode=WAL")
        yield


@asynccontextmanager
async def frozen_heap(_app: Litestar) -> AsyncIterator[None]:
    """Move everything loaded at start-up out of the collector's way (gc.freeze): a request that builds tens of
    thousands of objects (a waterfall under thousands of loans) otherwise pays for full collections that walk the
    whole application each time."""
    gc.collect()
    gc.freeze()
    yield
