from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from registry.roles import Role
from registry.schemas.fields import Password, Username

EntityKind = Literal["party", "loan", "asset", "lien"]


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    username: Username
    password: Password


class TokenResponse(msgspec.Struct):
    access_token: str
    token_type: str = "Bearer"


class UserCreate(msgspec.Struct, forbid_unknown_fields=True):
    username: Username
    password: Password
    role: Role


class UserRead(msgspec.Struct):
    id: int
    username: str
    role: str
    active: bool


class DocumentRead(msgspec.Struct):
    id: int
    sha256: str
    filename: str
    content_type: str
    size: int
    entity: str
    entity_ref: str
    uploaded_by: str
    uploaded_at: datetime


class AuditEventRead(msgspec.Struct):
    seq: int
    at: datetime
    actor: str
    entity: str
    entity_ref: str
    action: str
    before: Any
    after: Any
    hash: str


class ChainReportRead(msgspec.Struct):
    ok: bool
    events: int
    first_broken_seq: int | None
    reason: str | None
    unkeyed_events: int = 0


class AuditCheckpointRead(msgspec.Struct):
    seq: int
    hash: str
    checkpoint: str  # seq:hash, what `verify?since=` takes


class Health(msgspec.Struct):
    status: str
    database: str


class ImportSummary(msgspec.Struct):
    files: dict[str, dict[str, Any]]
