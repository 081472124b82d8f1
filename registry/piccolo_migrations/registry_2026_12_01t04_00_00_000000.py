"""Keyed audit hashes: each event records how its hash was made. Events already written keep their plain
SHA-256 hashes (version 1, the column's default); new events are HMAC-SHA256 (version 2). Re-hashing the old
events with the key would vouch for whatever they hold, tampering included, so they are left as they are."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import SmallInt
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-01T04:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "audit_event.hash_version"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="registry", description=DESCRIPTION)
    manager.add_column(
        table_class_name="AuditEvent",
        tablename="audit_event",
        column_name="hash_version",
        db_column_name="hash_version",
        column_class_name="SmallInt",
        column_class=SmallInt,
        params={
            "default": 1,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )
    return manager
