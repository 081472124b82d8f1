"""A valuation's natural key for bulk import: one valuation of an asset per date and method."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from valuation.tables import Valuation

ID = "2026-11-28T14:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "valuation natural key"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="valuation", description=DESCRIPTION)

    async def create_index() -> None:
        await Valuation.raw(
            "CREATE UNIQUE INDEX IF NOT EXISTS valuation_natural_key ON valuation (asset, valued_on, method)"
        )

    async def drop_index() -> None:
        await Valuation.raw("DROP INDEX IF EXISTS valuation_natural_key")

    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)
    return manager
