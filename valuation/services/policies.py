"""Policies per asset kind: haircut, revaluation period and maximum LTV (DESIGN section 5).

Ratios are stored as the decimal text the admin gave (stripped), after checking they parse and lie in
range, so the import, the export and the API all show the same digits."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from registry import audit
from registry.db import write_transaction
from registry.errors import FieldErrors, InvalidInputError
from registry.money import MoneyError, parse_ratio
from registry.schemas.assets import ASSET_KINDS
from registry.services.common import read_model
from valuation.schemas import PolicyRead, PolicyWrite
from valuation.tables import Policy

MAX_RATIO_DECIMALS = 12  # what the coverage engine's Decimal(24, 12) keeps
LIMITS = {"haircut": (Decimal(0), Decimal(1)), "max_ltv": (Decimal(0), Decimal(10))}


def _ratio(errors: FieldErrors, field: str, text: str) -> str:
    low, high = LIMITS[field]
    value = text.strip()
    try:
        parse_ratio(value, low=low, high=high)
    except MoneyError as exc:
        errors.add(field, str(exc))
        return value
    if "." in value and len(value.split(".", 1)[1]) > MAX_RATIO_DECIMALS:
        errors.add(field, f"at most {MAX_RATIO_DECIMALS} decimal places")
    return value


async def list_policies() -> list[PolicyRead]:
    rows = await Policy.select().order_by(Policy.kind)
    return [read_model(PolicyRead, r) for r in rows]


async def put_policy(kind: str, data: PolicyWrite, actor: str) -> PolicyRead:
    """Create or replace the policy of one asset kind."""
    if kind not in ASSET_KINDS:
        raise InvalidInputError.one("kind", f"{kind!r} is not an asset kind; one of {', '.join(ASSET_KINDS)}")
    errors = FieldErrors()
    haircut = _ratio(errors, "haircut", data.haircut)
    max_ltv = _ratio(errors, "max_ltv", data.max_ltv)
    errors.raise_if_any()
    values: dict[str, Any] = {"haircut": haircut, "revaluation_days": data.revaluation_days, "max_ltv": max_ltv}
    async with write_transaction():
        before = await Policy.select().where(Policy.kind == kind).first()
        if before is None:
            await Policy.insert(Policy(kind=kind, **values))
        else:
            await Policy.update(
                {Policy.haircut: haircut, Policy.revaluation_days: data.revaluation_days, Policy.max_ltv: max_ltv}
            ).where(Policy.kind == kind)
        before_view = None if before is None else {k: before[k] for k in values}
        await audit.record(
            actor,
            "policy",
            kind,
            "create" if before is None else "update",
            before=before_view,
            after={"kind": kind, **values},
        )
    return PolicyRead(kind=kind, haircut=haircut, revaluation_days=data.revaluation_days, max_ltv=max_ltv)
