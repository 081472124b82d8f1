"""The demo book's shape and vocabulary: its anchor date and size, and the plan dataclasses.

Shared by every planner in registry.demo; registry.demo.book re-exports what callers need.
Amounts are integer minor units of the loan's or lien's currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

ANCHOR = date(2026, 11, 1)
DEFAULT_SEED = 20261128
# Registries stamp local business hours; stored as UTC.
CHINA_TZ = timezone(timedelta(hours=8))

N_PARTIES, N_COMPANIES = 150, 95
N_BORROWERS = 120
N_LOANS = 300
FOREIGN_LOANS = {"USD": 6, "HKD": 5}


@dataclass(slots=True)
class PartyPlan:
    ref: str
    name: str
    kind: str
    id_number: str | None
    status: str
    city: str  # where the party's assets are
    standing: str  # good / watch / bad: steers its loans' statuses


@dataclass(frozen=True, slots=True)
class PostingPlan:
    kind: str
    value_date: date
    principal: int = 0
    interest: int = 0
    penalty: int = 0
    fees: int = 0
    memo: str = ""
    # Posted in error and reversed straight away, with this memo on the reversal.
    reversal_memo: str | None = None


@dataclass(slots=True)
class LoanPlan:
    ref: str
    borrower_ref: str
    currency: str
    status: str
    classification: str
    interest_rate: str
    maturity: date
    disbursed_on: date
    principal: int
    postings: list[PostingPlan] = field(default_factory=list)


@dataclass(slots=True)
class AssetPlan:
    ref: str
    kind: str
    owner_ref: str
    city: str
    district: str
    description: str
    address: str
    identifiers: dict[str, str]
    geometry: dict[str, Any] | None
    status: str = "active"


@dataclass(frozen=True, slots=True)
class RegistrationStep:
    to: str
    registration_number: str | None = None
    perfected_at: datetime | None = None
    expires_on: date | None = None
    reason: str = ""


@dataclass(slots=True)
class LienPlan:
    ref: str
    asset_ref: str
    kind: str
    currency: str
    holder: str
    loan_refs: list[str]
    cap: int | None
    external_claim: int | None
    authority: str
    steps: list[RegistrationStep]

    @property
    def status(self) -> str:
        return self.steps[-1].to if self.steps else "draft"

    @property
    def perfected_at(self) -> datetime | None:
        return next((s.perfected_at for s in self.steps if s.to == "registered"), None)


@dataclass(frozen=True, slots=True)
class DocumentPlan:
    entity: str
    entity_ref: str
    filename: str
    content_type: str
    content: bytes
    actor: str


@dataclass(frozen=True, slots=True)
class DemoBook:
    parties: list[PartyPlan]
    loans: list[LoanPlan]
    assets: list[AssetPlan]
    liens: list[LienPlan]
    documents: list[DocumentPlan]


# --- helpers the planners share -------------------------------------------------------------------


def round_to(units: int, step: int) -> int:
    return max(step, units // step * step)


def before_anchor(day: date) -> date:
    return min(day, ANCHOR - timedelta(days=1))
