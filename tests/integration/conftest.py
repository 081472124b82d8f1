"""Database, app and client fixtures for tests that go through the app.

The app and the test share one event loop (httpx AsyncClient over ASGITransport, lifespan run by
asgi-lifespan), so the PostgreSQL pool is usable from both. Tables are created once per run by the
real migrations and emptied after each test; users are kept so tokens minted once stay valid.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from piccolo.conf.apps import Finder
from piccolo.table import sort_table_classes

from registry import clock
from registry.roles import Role
from registry.tables import AppUser

pytestmark = pytest.mark.integration

PASSWORDS = {role: f"pw-{role.value}-secret" for role in Role}


async def _reset_schema() -> None:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from registry.db import engine, is_postgres

    if is_postgres():
        await engine().run_ddl("DROP SCHEMA public CASCADE")
        await engine().run_ddl("CREATE SCHEMA public")
    result = await run_forwards("all")
    assert result.success, result.message


async def empty_tables(keep_users: bool = True) -> None:
    from registry.db import is_postgres

    # Every app's tables, dependants before what they reference.
    ordered = list(reversed(sort_table_classes(Finder().get_table_classes())))
    tables = [t for t in ordered if not (keep_users and t is AppUser)]
    names = ", ".join(t._meta.tablename for t in tables)
    if is_postgres():
        await AppUser.raw(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    else:
        for t in tables:
            await t.delete(force=True)


@pytest.fixture(scope="session")
async def database() -> None:
    await _reset_schema()


@pytest.fixture(scope="session")
async def app(database: None) -> AsyncIterator[Any]:
    from app import create_app

    # No background sweep in process: tests close rounds by reading them, and a sweep's queries would land in the
    # middle of tests that count statements. Servers started by tests keep the sweep.
    application = create_app(round_sweep_seconds=0)
    async with LifespanManager(application):
        yield application


@pytest.fixture(scope="session")
async def users(app: Any) -> dict[Role, str]:
    from registry.services.users import create_user

    for role in Role:
        await create_user(f"{role.value}1", PASSWORDS[role], role, "test-setup")
    await empty_tables()  # each test starts with an empty audit chain
    return {role: f"{role.value}1" for role in Role}


@pytest.fixture(scope="session")
async def tokens(app: Any, users: dict[Role, str]) -> dict[Role, str]:
    jwt_auth = app.state.jwt_auth
    return {
        role: jwt_auth.create_token(identifier=name, token_extras={"role": role.value}) for role, name in users.items()
    }


@pytest.fixture
async def client(app: Any, tokens: dict[Role, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c
    await empty_tables()


@pytest.fixture
def as_role(tokens: dict[Role, str]) -> Any:
    """as_role(Role.ADMIN) -> headers carrying that role's bearer token."""

    def headers(role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[role]}"}

    return headers


@pytest.fixture(autouse=True)
def _system_clock() -> Iterator[None]:
    yield
    clock.set_clock(None)
