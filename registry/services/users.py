"""Users and their roles."""

from __future__ import annotations

from typing import Any

import anyio

from registry import audit, clock
from registry.db import write_transaction
from registry.errors import InvalidInputError, StateConflictError
from registry.passwords import hash_password, verify_password
from registry.roles import Role
from registry.schemas.misc import UserRead
from registry.services.common import read_model
from registry.tables import AppUser

MIN_PASSWORD = 8


async def hash_in_thread(password: str) -> str:
    """Argon2 takes about 0.15 s of CPU by design: off the event loop, so other requests go on meanwhile (and
    several hashes can run on several cores)."""
    return await anyio.to_thread.run_sync(hash_password, password)


async def create_user(
    username: str, password: str, role: Role, actor: str, *, password_hash: str | None = None
) -> UserRead:
    """`password_hash`, when the caller hashed `password` already (the demo hashes its users' at once)."""
    username = username.strip()
    if not username or len(username) > 64:
        raise InvalidInputError.one("username", "1-64 characters")
    if len(password) < MIN_PASSWORD:
        raise InvalidInputError.one("password", f"at least {MIN_PASSWORD} characters")
    password_hash = password_hash or await hash_in_thread(password)
    async with write_transaction():
        if await AppUser.exists().where(AppUser.username == username):
            raise StateConflictError(f"user {username!r} already exists")
        row: dict[str, Any] = {
            "username": username,
            "password_hash": password_hash,
            "role": role.value,
            "active": True,
            "created_at": clock.now(),
        }
        result = await AppUser.insert(AppUser(**row)).returning(AppUser.id)
        row["id"] = result[0]["id"]
        await audit.record(actor, "user", username, "create", after={"username": username, "role": role.value})
    return read_model(UserRead, row)


async def list_users() -> list[UserRead]:
    return [read_model(UserRead, r) for r in await AppUser.select().order_by(AppUser.username)]


async def authenticate(username: str, password: str) -> UserRead | None:
    row = await AppUser.select().where(AppUser.username == username).first()
    ok = await anyio.to_thread.run_sync(verify_password, row["password_hash"] if row else None, password)
    if row is None or not ok or not row["active"]:
        return None
    return read_model(UserRead, row)


async def active_user(username: str) -> UserRead | None:
    row = await AppUser.select().where((AppUser.username == username) & (AppUser.active == True)).first()  # noqa: E712
    return read_model(UserRead, row) if row else None
