"""The columns of each list page's CSV download, and how one row of the list becomes one line of it. Amounts
stay the services' decimal strings and times ISO 8601 UTC, so a spreadsheet reads them as the page shows them."""

from __future__ import annotations

import json
from typing import Any

from auctions.schemas.cases import CaseSummary
from registry.schemas.misc import AuditEventRead
from registry.schemas.spatial import OverlapRead
from valuation.schemas import AssetDue, LienExpiring

CASE_HEADER = (
    "case",
    "state",
    "profile",
    "owner_ref",
    "assets",
    "currency",
    "appraisal",
    "exposure_at_open",
    "opened_at",
    "settled_at",
)
AUDIT_HEADER = ("seq", "at", "actor", "entity", "ref", "action", "before", "after", "hash")
OVERLAP_HEADER = (
    "asset",
    "kind",
    "owner_ref",
    "owner",
    "overlaps_asset",
    "other_kind",
    "other_owner_ref",
    "other_owner",
    "shared_m2",
    "share_of_first",
    "share_of_second",
    "detected_at",
)


ASSET_DUE_HEADER = (
    "asset",
    "kind",
    "status",
    "owner_ref",
    "owner",
    "reason",
    "last_valued_on",
    "last_value",
    "currency",
    "revaluation_days",
    "due_on",
    "days_overdue",
)
LIEN_EXPIRING_HEADER = (
    "lien",
    "asset",
    "owner_ref",
    "owner",
    "kind",
    "holder",
    "registration_number",
    "authority",
    "expires_on",
    "days_left",
    "last_value",
    "currency",
)


def asset_due_row(a: AssetDue) -> list[Any]:
    return [
        a.asset_ref,
        a.kind,
        a.status,
        a.owner_ref,
        a.owner_name,
        a.reason,
        a.last_valued_on,
        a.last_value,
        a.value_currency,
        a.revaluation_days,
        a.due_on,
        a.days_overdue,
    ]


def lien_expiring_row(lien: LienExpiring) -> list[Any]:
    return [
        lien.lien_ref,
        lien.asset_ref,
        lien.owner_ref,
        lien.owner_name,
        lien.kind,
        lien.holder,
        lien.registration_number,
        lien.authority,
        lien.expires_on,
        lien.days_left,
        lien.last_value,
        lien.value_currency,
    ]


def case_row(c: CaseSummary) -> list[Any]:
    return [
        c.ref,
        c.state,
        c.profile,
        c.owner_ref,
        " ".join(c.asset_refs),
        c.currency,
        c.appraisal,
        c.exposure_at_open,
        c.opened_at.isoformat(),
        c.settled_at.isoformat() if c.settled_at else None,
    ]


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def audit_row(e: AuditEventRead) -> list[Any]:
    return [e.seq, e.at.isoformat(), e.actor, e.entity, e.entity_ref, e.action, _json(e.before), _json(e.after), e.hash]


def overlap_row(o: OverlapRead) -> list[Any]:
    a, b = o.asset_a, o.asset_b
    return [
        a.ref,
        a.kind,
        a.owner_ref,
        a.owner_name,
        b.ref,
        b.kind,
        b.owner_ref,
        b.owner_name,
        f"{o.overlap_area_m2:.2f}",
        o.share_of_a,
        o.share_of_b,
        o.detected_at.isoformat(),
    ]
