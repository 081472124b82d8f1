"""The app's short-lived shared state: login rate-limit counts, per-account lockouts and revoked tokens.

In one process (the embedded default) they live in memory; with COLLATERAL_REDIS_URL they live in Redis through
Litestar's RedisStore, so every worker sees the same counts and the same revocations.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar.security.jwt import Token
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore

from registry.edge_settings import EdgeSettings

RATE_LIMIT = "rate_limit"
LOGIN_LOCKOUT = "login_lockout"
REVOKED_TOKENS = "revoked_tokens"
STORE_NAMES = (RATE_LIMIT, LOGIN_LOCKOUT, REVOKED_TOKENS)
REDIS_CONNECTIONS = 64  # per worker


def build_stores(settings: EdgeSettings) -> dict[str, Store]:
    if not settings.redis_url:
        return {name: MemoryStore() for name in STORE_NAMES}
    # Imported only when asked for: the embedded default never needs a Redis client.
    from litestar.stores.redis import RedisStore
    from redis.asyncio import BlockingConnectionPool, Redis

    # Every authenticated request reads the revocation list: thousands of live-feed clients connecting at once
    # must wait a moment for one of a bounded set of connections, not fail with "Too many connections".
    pool = BlockingConnectionPool.from_url(settings.redis_url, max_connections=REDIS_CONNECTIONS, timeout=30)
    root = RedisStore(redis=Redis(connection_pool=pool), namespace="collateral")
    return {name: root.with_namespace(name) for name in STORE_NAMES}


def store_of(app: Any, name: str) -> Store:
    store: Store = app.stores.get(name)
    return store


async def revoke(store: Store, token: Token) -> None:
    """Remember a token as revoked until it would have expired anyway; after that its signature check refuses it."""
    if not isinstance(token.jti, str):
        return
    remaining = int((token.exp - datetime.now(UTC)).total_seconds()) + 1
    if remaining > 0:
        await store.set(token.jti, b"1", expires_in=remaining)


async def is_revoked(store: Store, jti: str) -> bool:
    # get, not exists: the memory store answers exists for an expired key, and get drops it
    return await store.get(jti) is not None
