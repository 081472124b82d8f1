from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, get_args

import msgspec

from registry.registration import RegistrationStatus
from registry.schemas.fields import (
    Amount,
    Currency,
    Day,
    LoanRefs,
    LongText,
    Moment,
    Name,
    OptionalName,
    Ref,
    RegistrationNumber,
    documented_text,
)

LienKind = Literal["mortgage", "max_amount_mortgage", "pledge"]
LIEN_KINDS: tuple[str, ...] = get_args(LienKind)
# A status the registration moves to; which moves the current status allows is a 409's business.
RegistrationTarget = Annotated[str, documented_text(32, enum=[s.value for s in RegistrationStatus])]


class LienCreate(msgspec.Struct, forbid_unknown_fields=True):
    ref: Ref
    asset_ref: Ref
    kind: LienKind
    currency: Currency
    holder: Name = "own"
    loan_refs: LoanRefs = msgspec.field(default_factory=list)
    cap: Amount | None = None
    external_claim: Amount | None = None
    authority: OptionalName = ""
    registration_number: RegistrationNumber = ""
    expires_on: Day | None = None


class LienUpdate(msgspec.Struct, forbid_unknown_fields=True):
    loan_refs: LoanRefs | msgspec.UnsetType = msgspec.UNSET
    cap: Amount | msgspec.UnsetType | None = msgspec.UNSET
    external_claim: Amount | msgspec.UnsetType | None = msgspec.UNSET
    authority: OptionalName | msgspec.UnsetType = msgspec.UNSET
    registration_number: RegistrationNumber | msgspec.UnsetType = msgspec.UNSET
    expires_on: Day | msgspec.UnsetType | None = msgspec.UNSET


class RegistrationMove(msgspec.Struct, forbid_unknown_fields=True):
    """Move a lien's registration. `registered` needs a registration number (here or already set);
    perfected_at defaults to now."""

    to: RegistrationTarget
    registration_number: RegistrationNumber | None = None
    authority: OptionalName | None = None
    perfected_at: Moment | None = None
    expires_on: Day | None = None
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
