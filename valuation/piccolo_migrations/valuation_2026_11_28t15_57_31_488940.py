from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Date

ID = "2026-11-28T15:57:31:488940"
VERSION = "1.38.0"
DESCRIPTION = "True"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="valuation", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="Valuation",
        tablename="valuation",
        column_name="valued_on",
        db_column_name="valued_on",
        params={"index": False},
        old_params={"index": True},
        column_class=Date,
        old_column_class=Date,
        schema=None,
    )

    return manager
