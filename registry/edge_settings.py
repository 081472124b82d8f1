"""Settings of the HTTP edge (origins, proxies, cookies, login lockout, shared stores, metrics), read once from the
environment. Kept apart from registry.config so the edge can be configured and tested on its own."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

_HOST = re.compile(r"[a-z0-9.-]+|[0-9a-f:.]+")  # a DNS name or an IPv4 address, or an IPv6 one in brackets
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"", "0", "false", "no", "off"})


@dataclass(frozen=True, slots=True)
class EdgeSettings:
    # Origins other than the request's own that may send cookie-authenticated writes ("https://bank.example").
    allowed_origins: frozenset[str] = frozenset()
    # Peers whose X-Forwarded-For and X-Forwarded-Proto are believed (addresses or networks); none by default.
    trusted_proxies: tuple[str, ...] = ()
    # Mark the session cookie Secure on every response, not only on requests that arrive over HTTPS.
    secure_cookies: bool = False
    # With Redis, rate-limit counts, lockouts and revoked tokens are shared by every worker.
    redis_url: str | None = None
    login_lockout_failures: int = 5
    login_lockout_window_seconds: int = 900
    login_lockout_seconds: int = 900
    # A static bearer token a Prometheus scraper presents at /metrics (admins may also read it with their login).
    metrics_token: str | None = None
    # A base map under the parcel maps ("https://tiles.bank.example/{z}/{x}/{y}.png"); none by default, so the maps
    # draw parcels on a blank ground and work with no tile server.
    map_tile_url: str | None = None


def normalise_origin(text: str) -> str:
    """`scheme://host[:port]`, lower case, default ports dropped: the form browsers send in `Origin`."""
    parts = urlsplit(text.strip())
    plain = parts.path in {"", "/"} and not parts.query and not parts.fragment and parts.username is None
    if parts.scheme not in {"http", "https"} or not parts.hostname or not plain or not _HOST.fullmatch(parts.hostname):
        raise ValueError(f"{text!r} is not an origin such as https://bank.example")
    default = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}{port}"


def _flag(name: str) -> bool:
    text = os.environ.get(name, "").strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(f"{name} must be true or false, not {text!r}")


def _positive(name: str, default: int) -> int:
    text = os.environ.get(name, str(default))
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {text!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {text!r}")
    return value


def _items(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def _origins(name: str) -> frozenset[str]:
    try:
        return frozenset(normalise_origin(o) for o in _items(name))
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def tile_url(text: str) -> str:
    """An http(s) tile URL template holding {z}, {x} and {y}; ValueError says what is wrong."""
    parts = urlsplit(text.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname or not _HOST.fullmatch(parts.hostname):
        raise ValueError(f"{text!r} is not an http(s) URL such as https://tiles.bank.example/{{z}}/{{x}}/{{y}}.png")
    if not all(part in text for part in ("{z}", "{x}", "{y}")):
        raise ValueError(f"{text!r} must hold {{z}}, {{x}} and {{y}}")
    return text.strip()


def _tile_url(name: str) -> str | None:
    text = os.environ.get(name, "").strip()
    try:
        return tile_url(text) if text else None
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


@lru_cache(maxsize=1)
def edge_settings() -> EdgeSettings:
    return EdgeSettings(
        allowed_origins=_origins("COLLATERAL_ALLOWED_ORIGINS"),
        trusted_proxies=tuple(_items("COLLATERAL_TRUSTED_PROXIES")),
        secure_cookies=_flag("COLLATERAL_SECURE_COOKIES"),
        redis_url=os.environ.get("COLLATERAL_REDIS_URL") or None,
        login_lockout_failures=_positive("COLLATERAL_LOGIN_LOCKOUT_FAILURES", 5),
        login_lockout_window_seconds=_positive("COLLATERAL_LOGIN_LOCKOUT_WINDOW_SECONDS", 900),
        login_lockout_seconds=_positive("COLLATERAL_LOGIN_LOCKOUT_SECONDS", 900),
        metrics_token=os.environ.get("COLLATERAL_METRICS_TOKEN") or None,
        map_tile_url=_tile_url("COLLATERAL_MAP_TILE_URL"),
    )
