"""Authentication (JWT, as a bearer header or an HttpOnly cookie for the pages) and role guards."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.security.jwt import JWTCookieAuth, Token

from registry.config import Settings
from registry.edge_settings import edge_settings
from registry.roles import Role
from registry.schemas.misc import UserRead
from registry.services.users import active_user
from registry.stores import RATE_LIMIT, REVOKED_TOKENS, is_revoked, store_of

PUBLIC = {"exclude_from_auth": True, "public": True}


def roles(*allowed: Iterable[Role] | Role) -> dict[str, Any]:
    """Route `opt` declaring who may call it: `opt=roles(REGISTRY_READERS)`."""
    out: set[Role] = set()
    for item in allowed:
        out.update([item] if isinstance(item, Role) else item)
    return {"roles": frozenset(out)}


async def role_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Deny by default: a route that declares no roles and is not public refuses everyone."""
    if handler.opt.get("public"):
        return
    allowed: frozenset[Role] | None = handler.opt.get("roles")
    if not allowed:
        raise PermissionDeniedException(detail="this route declares no roles, so nobody may call it")
    user = connection.scope.get("user")
    if not isinstance(user, UserRead):
        raise NotAuthorizedException(detail="sign in first")
    if Role(user.role) not in allowed:
        raise PermissionDeniedException(
            detail=f"role {user.role!r} may not do this; allowed: {', '.join(sorted(r.value for r in allowed))}"
        )


async def retrieve_user(token: Token, connection: ASGIConnection[Any, Any, Any, Any]) -> UserRead | None:
    # A token without an id cannot be revoked by logging out, so it is not accepted at all. The revocation is
    # checked on every request (a logout holds at once, on every worker); only the user's row is remembered.
    if not isinstance(token.jti, str) or await is_revoked(store_of(connection.app, REVOKED_TOKENS), token.jti):
        return None
    return await _token_user(token.jti, token.sub)


def user_cache_seconds() -> float:
    """How long a worker keeps a token's user (COLLATERAL_USER_CACHE_SECONDS, 0: read it on every request)."""
    return max(0.0, float(os.environ.get("COLLATERAL_USER_CACHE_SECONDS", "2")))


# token id -> (monotonic expiry, the token's user). A bidder bidding several times a second read the same row on
# every bid: one database round trip of each request's few. A user made inactive in the database is refused once
# the entry expires (no API changes a user after creation). Bounded: cleared when full.
_RECENT_USERS: dict[str, tuple[float, UserRead]] = {}
_RECENT_USERS_MAX = 10_000


async def _token_user(jti: str, username: str) -> UserRead | None:
    now = time.monotonic()
    hit = _RECENT_USERS.get(jti)
    if hit is not None and hit[0] > now and hit[1].username == username:
        return hit[1]
    user = await active_user(username)
    seconds = user_cache_seconds()
    if user is None or not seconds:
        _RECENT_USERS.pop(jti, None)
        return user
    if len(_RECENT_USERS) >= _RECENT_USERS_MAX:
        _RECENT_USERS.clear()
    _RECENT_USERS[jti] = (now + seconds, user)
    return user


# (encoded token, secret, algorithm) -> the token it decoded to. Bounded: cleared when full.
_DECODED: dict[tuple[str, str, str], Token] = {}
_DECODED_MAX = 10_000


class RememberedToken(Token):
    """A token whose signature was checked once is not checked again on each request: the exact string, signed
    with the same secret, was verified before. Its expiry is checked every time. Only the tokens this app issues
    are remembered (no audience, issuer, required claims or not-before), so every check the decode makes holds."""

    @classmethod
    def decode(  # type: ignore[override]  # the same parameters, passed on as given
        cls, encoded_token: str, secret: str, algorithm: str, *args: Any, **kwargs: Any
    ) -> RememberedToken:
        key = (encoded_token, secret, algorithm)
        plain = not args and not any(kwargs.get(k) for k in ("audience", "issuer", "require_claims", "strict_audience"))
        plain = plain and kwargs.get("verify_exp", True) is not False
        hit = _DECODED.get(key) if plain else None
        if hit is not None and hit.exp.timestamp() > time.time():
            return hit  # type: ignore[return-value]
        token = super().decode(encoded_token, secret, algorithm, *args, **kwargs)
        if plain and "nbf" not in token.extras:
            if len(_DECODED) >= _DECODED_MAX:
                _DECODED.clear()
            _DECODED[key] = token
        return token


class RevocableJWTCookieAuth(JWTCookieAuth[UserRead, Token]):
    """Every token gets a unique id (jti), which logging out records as revoked."""

    def create_token(
        self,
        identifier: str,
        token_expiration: timedelta | None = None,
        token_issuer: str | None = None,
        token_audience: str | None = None,
        token_unique_jwt_id: str | None = None,
        token_extras: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> str:
        return super().create_token(
            identifier,
            token_expiration=token_expiration,
            token_issuer=token_issuer,
            token_audience=token_audience,
            token_unique_jwt_id=token_unique_jwt_id or secrets.token_urlsafe(18),
            token_extras=token_extras,
            **kwargs,
        )


def build_jwt_auth(settings: Settings) -> JWTCookieAuth[UserRead, Token]:
    return RevocableJWTCookieAuth(
        retrieve_user_handler=retrieve_user,
        token_secret=settings.secret_key,
        token_cls=RememberedToken,
        default_token_expiration=timedelta(minutes=settings.token_minutes),
        exclude=["^/schema", "^/health$", "^/static/"],
        key="access_token",
        samesite="strict",
        # Also set per request when it arrives over HTTPS (frontend.session); this makes it unconditional.
        secure=edge_settings().secure_cookies,
    )


def build_login_rate_limit(settings: Settings) -> RateLimitConfig:
    # Counted per client address (forwarded addresses only from trusted proxies: registry.edge) in the app's
    # "rate_limit" store: memory in one process, Redis with COLLATERAL_REDIS_URL (registry.stores).
    return RateLimitConfig(rate_limit=("minute", settings.login_attempts_per_minute), store=RATE_LIMIT)


LOGIN_PATHS = frozenset({"/api/auth/login", "/login"})


async def throttle_login(request: Request[Any, Any, Any]) -> bool:
    """The login rate limit counts sign-in attempts only."""
    return request.method == "POST" and request.url.path in LOGIN_PATHS
