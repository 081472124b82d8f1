"""What the record pages show, shaped from the services' answers: a lien's registration moves as buttons (from
registry.registration's table of allowed moves), an audit event's before and after side by side, and the
messages after a change. Pure: no Litestar, no database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from registry.registration import ALLOWED_MOVES, RegistrationStatus

# What the pages say after a redirect (?done=…); anything else is ignored, never echoed.
DONE = {
    "posted": "Posting recorded on the ledger.",
    "reversed": "Posting reversed: the reversal is the last line of the ledger.",
    "status": "Loan status saved.",
    "unchanged": "Nothing to save: the loan already reads so.",
    "submitted": "Lien submitted for registration.",
    "registered": "Lien registered.",
    "rejected": "Registration recorded as rejected.",
    "released": "Lien released: it no longer secures anything.",
    "expired": "Registration recorded as expired.",
    "renewed": "Expiry date renewed.",
}


@dataclass(frozen=True, slots=True)
class MoveButton:
    to: str
    label: str
    explains: str
    asks: tuple[str, ...] = ()  # the form controls this move takes besides the button
    danger: bool = False


# Every move of the registration table, in the desk's words. A move is shown only when ALLOWED_MOVES allows it
# from the lien's status, so this table never decides what is allowed.
_BUTTONS = {
    RegistrationStatus.SUBMITTED: MoveButton(
        "submitted", "Submit for registration", "The filing has gone to the registration authority."
    ),
    RegistrationStatus.REGISTERED: MoveButton(
        "registered",
        "Register",
        "The authority registered the lien: record the number it issued and when the lien was perfected.",
        ("registration_number", "authority", "perfected_at", "expires_on"),
    ),
    RegistrationStatus.REJECTED: MoveButton(
        "rejected", "Record rejection", "The authority refused the filing.", ("reason",), danger=True
    ),
    RegistrationStatus.RELEASED: MoveButton(
        "released", "Release", "The lien is discharged: it stops securing its loans.", ("reason",), danger=True
    ),
    RegistrationStatus.EXPIRED: MoveButton(
        "expired", "Expire", "The registration lapsed without renewal.", ("reason",), danger=True
    ),
}


def move_buttons(status: str) -> list[MoveButton]:
    """The moves the lien's registration status allows, in the table's order."""
    return [_BUTTONS[target] for target in ALLOWED_MOVES[RegistrationStatus(status)]]


def may_renew(status: str) -> bool:
    # Renewing extends a registration that stands; a draft or submitted lien has no registration to renew.
    return status == RegistrationStatus.REGISTERED.value


@dataclass(frozen=True, slots=True)
class DiffLine:
    name: str
    before: str
    after: str
    changed: bool


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def diff_lines(before: Any, after: Any) -> list[DiffLine]:
    """Field by field, before beside after; a changed field is marked. An event whose before or after is not an
    object (or is missing) shows as one line."""
    if not isinstance(before, dict) and not isinstance(after, dict):
        both = before is not None and after is not None
        return [DiffLine("", _shown(before), _shown(after), both and before != after)]
    old = before if isinstance(before, dict) else {}
    new = after if isinstance(after, dict) else {}
    # A creation (no before) or a removal (no after) changes every field: marking them all would mark nothing.
    compared = isinstance(before, dict) and isinstance(after, dict)
    names = list(old) + [name for name in new if name not in old]
    return [
        DiffLine(
            name,
            _shown(old[name]) if name in old else "",
            _shown(new[name]) if name in new else "",
            compared and (old.get(name) != new.get(name) or (name in old) != (name in new)),
        )
        for name in names
    ]


# The audit's entities whose refs have a page of their own.
RECORD_PAGES = {
    "party": "/parties/",
    "loan": "/loans/",
    "asset": "/assets/",
    "lien": "/liens/",
    "disposal": "/disposals/",
}


def record_url(entity: str, ref: str) -> str | None:
    prefix = RECORD_PAGES.get(entity)
    return prefix + ref if prefix and ref else None
