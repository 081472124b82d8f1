"""One row per (lien, loan): bulk import upserts the pair, and a pair listed twice means nothing more."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from registry.tables import LienLoan

ID = "2026-11-28T14:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique lien_loan pairs"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="registry", description=DESCRIPTION)

    async def create_index() -> None:
        await LienLoan.raw("CREATE UNIQUE INDEX IF NOT EXISTS lien_loan_pair ON lien_loan (lien, loan)")

    async def drop_index() -> None:
        await LienLoan.raw("DROP INDEX IF EXISTS lien_loan_pair")

    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)
    return manager
