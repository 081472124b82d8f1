"""Jinja set-up for the pages, the static files router, and what every page's layout needs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from litestar import Request, Router
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from auctions.access import CASE_READERS
from registry.auth import PUBLIC
from registry.roles import ALL_ROLES, AUDIT_READERS, COLLATERAL_WRITERS, REGISTRY_READERS, SCENARIO_RUNNERS, Role
from registry.schemas.misc import UserRead

FRONTEND_DIR = Path(__file__).resolve().parent
TEMPLATE_DIR = FRONTEND_DIR / "templates"
STATIC_DIR = FRONTEND_DIR / "static"


@dataclass(frozen=True, slots=True)
class NavLink:
    label: str
    path: str
    roles: frozenset[Role]


# Only pages that exist; a role with none of them (bidders, for now) gets the home page alone.
NAVIGATION = (
    NavLink("Assets", "/assets", REGISTRY_READERS),
    NavLink("Overlaps", "/overlaps", REGISTRY_READERS),
    # The approval queue is the work of those who may decide; readers can still open /valuations.
    NavLink("Approvals", "/valuations", COLLATERAL_WRITERS),
    NavLink("Worklist", "/worklist", REGISTRY_READERS),
    NavLink("Coverage", "/coverage", REGISTRY_READERS),
    # Stress and what-if compute the whole book twice: only those who run scenarios see them.
    NavLink("Stress", "/coverage/stress", SCENARIO_RUNNERS),
    NavLink("What-if", "/coverage/what-if", SCENARIO_RUNNERS),
    NavLink("Disposal", "/disposals", CASE_READERS),
    # Public auctions and their rooms: every role, and all a bidder sees.
    NavLink("Auctions", "/public/auctions", ALL_ROLES),
    # The log is evidence: only those who read it (auditors, admins) see the link, as only they may open it.
    NavLink("Audit log", "/audit", AUDIT_READERS),
)

# Where each role lands after signing in: the first page its navigation offers, else /home.
HOME = "/home"

ROLE_LABELS = {
    Role.ADMIN: "Administrator",
    Role.ASSET_MANAGER: "Asset manager",
    Role.CREDIT_OFFICER: "Credit officer",
    Role.DISPOSAL_OFFICER: "Disposal officer",
    Role.BIDDER: "Bidder",
    Role.AUDITOR: "Auditor",
}

# Vocabulary whose plain humanised form reads wrongly; everything else is "snake_case" -> "Snake case".
LABELS = {
    "land_use_right": "Land-use right",
    "ip_right": "IP right",
    "max_amount_mortgage": "Maximum-amount mortgage",
    "own": "Own (this bank)",
}


def label(value: object) -> str:
    text = str(value)
    if text in LABELS:
        return LABELS[text]
    return text.replace("_", " ").capitalize()


def utc_time(value: datetime | None) -> str:
    # Both engines hand back aware UTC datetimes; the pages say so rather than guess a local zone.
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def amount(value: str | None) -> str:
    """A decimal string from the services, with thousands separators; the digits are kept exactly."""
    if value is None:
        return ""
    try:
        return f"{Decimal(value):,}"
    except InvalidOperation:
        return value


def iso_date(value: date | None) -> str:
    return "" if value is None else value.isoformat()


@lru_cache(maxsize=64)
def static_url(name: str) -> str:
    """/static/<name> with a content hash, so a changed file is never served stale from a cache."""
    path = STATIC_DIR / name
    if not path.is_file():
        return f"/static/{name}"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


def navigation_for(role: str) -> list[NavLink]:
    return [link for link in NAVIGATION if Role(role) in link.roles]


def active_link(links: list[NavLink], path: str) -> str | None:
    """The link the page belongs to: the longest whose path is the page's or a folder above it, so
    /coverage/stress marks Stress, not Coverage as well."""
    under = [link.path for link in links if path == link.path or path.startswith(link.path.rstrip("/") + "/")]
    return max(under, key=len, default=None)


def landing_page(role: str) -> str:
    links = navigation_for(role)
    return links[0].path if links else HOME


def signed_in_user(request: Request[Any, Any, Any]) -> UserRead | None:
    user = request.scope.get("user")
    return user if isinstance(user, UserRead) else None


def layout_context(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """What base.html needs: the user, their role's label and the navigation they may see."""
    user = signed_in_user(request)
    if user is None:
        return {"user": None, "role_label": "", "navigation": [], "active_path": None, "may_search": False}
    links = navigation_for(user.role)
    return {
        "user": user,
        # The header's search box finds registry records: for those who may read them.
        "may_search": Role(user.role) in REGISTRY_READERS,
        "search_text": request.query_params.get("q", "") if request.url.path == "/search" else "",
        "role_label": ROLE_LABELS.get(Role(user.role), user.role),
        "navigation": links,
        "active_path": active_link(links, request.url.path),
    }


def _register_helpers(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters.update(label=label, utc_time=utc_time, iso_date=iso_date, amount=amount)
    engine.engine.globals["static_url"] = static_url


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(directory=TEMPLATE_DIR, engine=JinjaTemplateEngine, engine_callback=_register_helpers)


def static_files_router() -> Router:
    return create_static_files_router(
        path="/static", directories=[STATIC_DIR], name="static", opt=dict(PUBLIC), include_in_schema=False
    )
