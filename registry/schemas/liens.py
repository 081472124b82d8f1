from __future__ import annotations

from datetime import date, datetime
from typing import Literal, get_args

import msgspec

from registry.schemas.fields import Amount, Currency, LoanRefs, LongText, Name, Ref, RegistrationNumber, Short

LienKind = Literal["mortgage", "max_amount_mortgage", "pledge"]
LIEN_KINDS: tuple[str, ...] = get_args(LienKind)


class LienCreate(msgspec.Struct, forbid_unknown_fields=True):
    ref: Ref
    asset_ref: Ref
    kind: LienKind
    currency: Currency
    holder: Name = "own"
    loan_refs: LoanRefs = msgspec.field(default_factory=list)
    cap: Amount | None = None
    external_claim: Amount | None = None
    authority: Name = ""
    registration_number: RegistrationNumber = ""
    expires_on: date | None = None


class LienUpdate(msgspec.Struct, forbid_unknown_fields=True):
    loan_refs: LoanRefs | msgspec.UnsetType = msgspec.UNSET
    cap: Amount | msgspec.UnsetType | None = msgspec.UNSET
    external_claim: Amount | msgspec.UnsetType | None = msgspec.UNSET
    authority: Name | msgspec.UnsetType = msgspec.UNSET
    registration_number: RegistrationNumber | msgspec.UnsetType = msgspec.UNSET
    expires_on: date | msgspec.UnsetType | None = msgspec.UNSET


class RegistrationMove(msgspec.Struct, forbid_unknown_fields=True):
    """Move a lien's registration. `registered` needs a registration number (here or already set);
    perfected_at defaults to now."""

    to: Short
    registration_number: RegistrationNumber | None = None
    authority: Name | None = None
    perfected_at: datetime | None = None
    expires_on: date | None = None
    reason: LongText = ""


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
