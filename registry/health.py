"""Liveness and readiness, for an orchestrator: `/health/live` says the process answers (no database: a slow
database must not get a healthy process restarted), `/health/ready` that it can serve (the database answers and
every migration the code ships has been applied). `/health` stays as it was: the container's health check."""

from __future__ import annotations

from functools import cache

import msgspec
from litestar import get
from litestar.exceptions import ServiceUnavailableException
from piccolo.apps.migrations.commands.base import BaseMigrationManager
from piccolo.apps.migrations.tables import Migration

from registry.auth import PUBLIC
from registry.db import is_postgres
from registry.schemas.misc import Health
from registry.tables import AuditEvent


class Liveness(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    status: str
    database: str
    migrations: int


@cache
def shipped_migrations() -> frozenset[tuple[str, str]]:
    """(app, migration id) of every migration in the code; read once, they do not change while it runs."""
    finder = BaseMigrationManager()
    shipped: set[tuple[str, str]] = set()
    for module in finder.get_app_modules():
        config = module.APP_CONFIG
        modules = finder.get_migration_modules(config.resolved_migrations_folder_path)
        shipped.update((config.app_name, migration_id) for migration_id in finder.get_migration_ids(modules))
    return frozenset(shipped)


async def pending_migrations() -> list[str]:
    rows = await Migration.select(Migration.app_name, Migration.name)
    applied = {(row["app_name"], row["name"]) for row in rows}
    return sorted(f"{app}:{name}" for app, name in shipped_migrations() - applied)


@get("/health", opt=PUBLIC, operation_id="Health", name="health", tags=["health"], security=[])
async def health() -> Health:
    await AuditEvent.raw("SELECT 1")
    return Health(status="ok", database="postgresql" if is_postgres() else "sqlite")


@get("/health/live", operation_id="HealthLive", name="health:live", opt=PUBLIC, tags=["health"], security=[])
async def live() -> Liveness:
    return Liveness(status="ok")


@get("/health/ready", operation_id="HealthReady", name="health:ready", opt=PUBLIC, tags=["health"], security=[])
async def ready() -> Readiness:
    try:
        pending = await pending_migrations()
    except Exception as exc:  # whatever the driver raises, the answer is "not ready"
        raise ServiceUnavailableException(
            detail=f"the database does not answer: {type(exc).__name__}", extra={"database": "unreachable"}
        ) from exc
    if pending:
        raise ServiceUnavailableException(
            detail=f"{len(pending)} migration(s) not applied: run `collateral migrate`",
            extra={"pending_migrations": pending},
        )
    return Readiness(
        status="ok", database="postgresql" if is_postgres() else "sqlite", migrations=len(shipped_migrations())
    )
