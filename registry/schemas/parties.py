from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

PartyKind = Literal["individual", "company"]
PartyStatus = Literal["normal", "bankrupt", "blacklisted"]


class PartyCreate(msgspec.Struct, forbid_unknown_fields=True):
    ref: str
    name: str
    kind: PartyKind
    id_number: str | None = None
    status: PartyStatus = "normal"


class PartyUpdate(msgspec.Struct, forbid_unknown_fields=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    id_number: str | msgspec.UnsetType | None = msgspec.UNSET
    status: PartyStatus | msgspec.UnsetType = msgspec.UNSET


class PartyRead(msgspec.Struct):
    id: int
    ref: str
    name: str
    kind: str
    id_number: str | None
    status: str
    created_at: datetime
