"""The audit chain's head read with its lock in one round trip (PostgreSQL): `audit_chain_head()` takes the chain's
advisory lock and then reads the newest event. Being VOLATILE, its read takes a snapshot of its own after the lock is
held, so it sees the event of the writer that held the lock before; two statements used to be needed for that, and a
hot auction's every accepted bid paid the extra trip while holding the round (bench/README.md, "Hot auction").

The argument is only there to be named: a statement that must lock a row before the chain (a bid taking the lead)
passes a column of that row, so the call cannot be planned ahead of the row's lock. The lock's key is
registry.audit.CHAIN_LOCK."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from registry.db import is_postgres
from registry.tables import AuditEvent

ID = "2026-12-02T18:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "audit_chain_head(): the chain's lock and head in one call"

CREATE = """
CREATE OR REPLACE FUNCTION audit_chain_head(after_row bigint DEFAULT NULL, OUT seq bigint, OUT hash varchar)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1635083369);
    SELECT e.seq, e.hash INTO seq, hash FROM audit_event e ORDER BY e.seq DESC LIMIT 1;
END
$$
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="registry", description=DESCRIPTION)

    async def create_function() -> None:
        if is_postgres():
            await AuditEvent.raw(CREATE)

    async def drop_function() -> None:
        if is_postgres():
            await AuditEvent.raw("DROP FUNCTION IF EXISTS audit_chain_head(bigint)")

    manager.add_raw(create_function)
    manager.add_raw_backwards(drop_function)
    return manager
