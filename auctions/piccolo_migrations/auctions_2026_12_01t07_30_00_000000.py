"""One bid per (round, bidder, Idempotency-Key): a refused bid is kept without the round's lock, so two requests
with the same key at once are told apart here, and the second reads the first's answer."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from auctions.tables import Bid

ID = "2026-12-01T07:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique idempotency key per round and bidder"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="auctions", description=DESCRIPTION)

    async def create_index() -> None:
        await Bid.raw(
            "CREATE UNIQUE INDEX IF NOT EXISTS bid_first_answer ON bid (round, bidder, idempotency_key) "
            "WHERE idempotency_key IS NOT NULL"
        )

    async def drop_index() -> None:
        await Bid.raw("DROP INDEX IF EXISTS bid_first_answer")

    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)
    return manager
