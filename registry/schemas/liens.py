from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import msgspec

LienKind = Literal["mortgage", "max_amount_mortgage", "pledge"]


class LienCreate(msgspec.Struct, forbid_unknown_fields=True):
    ref: str
    asset_ref: str
    kind: LienKind
    currency: str
    holder: str = "own"
    loan_refs: list[str] = msgspec.field(default_factory=list)
    cap: str | None = None
    external_claim: str | None = None
    authority: str = ""
    registration_number: str = ""
    expires_on: date | None = None


class LienUpdate(msgspec.Struct, forbid_unknown_fields=True):
    loan_refs: list[str] | msgspec.UnsetType = msgspec.UNSET
    cap: str | msgspec.UnsetType | None = msgspec.UNSET
    external_claim: str | msgspec.UnsetType | None = msgspec.UNSET
    authority: str | msgspec.UnsetType = msgspec.UNSET
    registration_number: str | msgspec.UnsetType = msgspec.UNSET
    expires_on: date | msgspec.UnsetType | None = msgspec.UNSET


class RegistrationMove(msgspec.Struct, forbid_unknown_fields=True):
    """Move a lien's registration. `registered` needs a registration number (here or already set);
    perfected_at defaults to now."""

    to: str
    registration_number: str | None = None
    authority: str | None = None
    perfected_at: datetime | None = None
    expires_on: date | None = None
    reason: str = ""


class LienRead(msgspec.Struct):
    id: int
    ref: str
    asset_ref: str
    kind: str
    holder: str
    currency: str
    cap: str | None
    external_claim: str | None
    authority: str
    registration_number: str
    status: str
    perfected_at: datetime | None
    expires_on: date | None
    rank: int | None
    loan_refs: list[str]
    allowed_moves: list[str]
    created_at: datetime
