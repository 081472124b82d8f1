"""Signing in, with a per-account lockout beside the per-address rate limit.

The rate limit counts attempts per client address, which a botnet or a shared proxy address defeats in one
direction or the other; the lockout counts failures per username: COLLATERAL_LOGIN_LOCKOUT_FAILURES failures
within COLLATERAL_LOGIN_LOCKOUT_WINDOW_SECONDS lock that username for COLLATERAL_LOGIN_LOCKOUT_SECONDS, whoever
tries it and whether or not it exists (so the answer tells nothing about which usernames are real). A locked
account is refused before its password is checked, so guessing during the lockout learns nothing.
"""

from __future__ import annotations

import hashlib
import math
from typing import Protocol

import anyio

from registry.edge_settings import EdgeSettings
from registry.errors import DomainError
from registry.schemas.misc import UserRead
from registry.services.users import authenticate


class Store(Protocol):
    """What this needs of a key-value store with expiry: Litestar's MemoryStore and RedisStore are ones."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, expires_in: int | None = None) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def expires_in(self, key: str) -> int | None: ...


# Read-modify-write of a count in one process; across workers (Redis) two failures landing at once may count as
# one, which lets an attacker at most a few more tries per window.
_COUNT_LOCK = anyio.Lock()


class AccountLockedError(DomainError):
    status_code = 429
    title = "Too many attempts"

    def __init__(self, failures: int, retry_after: int) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            f"this account is locked after {failures} failed logins; try again in {minutes} minute"
            + ("s" if minutes != 1 else "")
        )
        self.retry_after = retry_after

    def extra(self) -> dict[str, object]:
        return {"locked": True, "retry_after": self.retry_after}


def _key(username: str) -> str:
    # Fixed length and plain characters whatever was typed: the key goes to Redis as it is.
    return hashlib.sha256(username.strip().encode("utf-8", "surrogatepass")).hexdigest()


async def _locked_for(store: Store, key: str) -> int | None:
    # get, not exists: the memory store answers exists for an expired key
    if await store.get(f"locked:{key}") is None:
        return None
    return max(1, await store.expires_in(f"locked:{key}") or 1)


async def _count_failure(store: Store, key: str, window: int) -> int:
    async with _COUNT_LOCK:
        name = f"failures:{key}"
        current = await store.get(name)
        count = int(current) + 1 if current else 1
        # A fixed window from the first failure: later failures keep its expiry.
        remaining = (await store.expires_in(name) or window) if current else window
        await store.set(name, str(count).encode(), expires_in=remaining)
    return count


async def sign_in(store: Store, settings: EdgeSettings, username: str, password: str) -> UserRead | None:
    """The user, or None for a wrong username or password; AccountLockedError while the username is locked."""
    key = _key(username)
    if (retry_after := await _locked_for(store, key)) is not None:
        raise AccountLockedError(settings.login_lockout_failures, retry_after)
    user = await authenticate(username, password)
    if user is not None:
        await store.delete(f"failures:{key}")
        return user
    failures = await _count_failure(store, key, settings.login_lockout_window_seconds)
    if failures >= settings.login_lockout_failures:
        await store.set(f"locked:{key}", b"1", expires_in=settings.login_lockout_seconds)
        await store.delete(f"failures:{key}")
        raise AccountLockedError(failures, settings.login_lockout_seconds)
    return None
