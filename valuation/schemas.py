"""Request and response shapes of valuations, policies and the revaluation worklist (DESIGN section 5).

Money and ratios travel as decimal strings; the services turn them into minor units and exact decimals."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from registry.schemas.fields import Amount, Currency, Day, Name, Ref, RequiredText

ValuationMethod = Literal["market_comparison", "income", "cost", "desktop", "auction_result"]
ValuationStatus = Literal["submitted", "approved", "rejected"]
# Ratios are kept in a Varchar(24) column; more than that is not a ratio anyone means.
# haircut from 0 to 1, max_ltv from 0 to 10, with at most 12 decimal places (valuation.services.policies).
Haircut = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=24,
        pattern=r"^[^\x00]*$",
        extra_json_schema={"extra": {"pattern": r"^\s*(0(\.[0-9]{1,12})?|1(\.0{1,12})?)\s*$"}},
    ),
]
MaxLtv = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=24,
        pattern=r"^[^\x00]*$",
        extra_json_schema={"extra": {"pattern": r"^\s*([0-9](\.[0-9]{1,12})?|10(\.0{1,12})?)\s*$"}},
    ),
]
RevaluationDays = Annotated[int, msgspec.Meta(gt=0, le=36_500)]


class ValuationSubmit(msgspec.Struct, forbid_unknown_fields=True):
    asset_ref: Ref
    valued_on: Day
    market_value: Amount
    currency: Currency
    method: ValuationMethod
    appraiser: Name
    forced_sale_value: Amount | None = None


class ValuationReject(msgspec.Struct, forbid_unknown_fields=True):
    reason: RequiredText


class ValuationRead(msgspec.Struct):
    id: int
    asset_ref: str
    asset_kind: str
    valued_on: date
    market_value: str
    forced_sale_value: str | None
    currency: str
    method: str
    appraiser: str
    status: str
    submitted_by: str
    submitted_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str
    allowed_moves: list[str]


class PolicyWrite(msgspec.Struct, forbid_unknown_fields=True):
    haircut: Haircut
    revaluation_days: RevaluationDays
    max_ltv: MaxLtv


class PolicyRead(msgspec.Struct):
    kind: str
    haircut: str
    revaluation_days: int
    max_ltv: str


WorklistReason = Literal["no_valuation", "stale", "no_policy"]


class AssetDue(msgspec.Struct):
    """An asset that needs a (re)valuation as of the worklist's date, and why."""

    asset_ref: str
    kind: str
    status: str
    reason: WorklistReason
    last_valued_on: date | None  # latest approved valuation on or before as_of
    revaluation_days: int | None  # None: the asset's kind has no policy
    due_on: date | None  # last_valued_on + revaluation_days
    days_overdue: int | None  # as_of - due_on, for stale ones
    owner_ref: str = ""
    owner_name: str = ""
    last_value: str | None = None  # market value of the latest approved valuation (the lower of two that day)
    value_currency: str | None = None


class LienExpiring(msgspec.Struct):
    """A registered lien whose registration expires within the window (or has already passed its date)."""

    lien_ref: str
    asset_ref: str
    kind: str
    holder: str
    registration_number: str
    authority: str
    expires_on: date
    days_left: int  # negative: the expiry date has passed and the lien is still marked registered
    owner_ref: str = ""  # the asset's owner
    owner_name: str = ""
    last_value: str | None = None  # the asset's latest approved value on or before as_of, as on AssetDue
    value_currency: str | None = None


class UploadResult(msgspec.Struct):
    file: str
    rows: int
    created: int
    sha256: str
