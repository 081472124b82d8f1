from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

import msgspec

from registry.schemas.fields import IdNumber, Name, Ref

PartyKind = Literal["individual", "company"]
PARTY_KINDS: tuple[str, ...] = get_args(PartyKind)
PartyStatus = Literal["normal", "bankrupt", "blacklisted"]


class PartyCreate(msgspec.Struct, forbid_unknown_fields=True):
    ref: Ref
    name: Name
    kind: PartyKind
    id_number: IdNumber | None = None
    status: PartyStatus = "normal"


class PartyUpdate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    id_number: IdNumber | msgspec.UnsetType | None = msgspec.UNSET
    status: PartyStatus | msgspec.UnsetType = msgspec.UNSET


class PartyRead(msgspec.Struct):
    id: int
    ref: str
    name: str
    kind: str
    id_number: str | None
    status: str
    created_at: datetime
