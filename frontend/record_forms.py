"""The record pages' forms (a loan's posting and status, a lien's registration moves and renewal): what was
typed, read into the services' request shapes, and every refusal put beside the control it is about, in the
words of the person at the desk rather than the API's.

Controls are named as the services name the fields, so a service's 422 lands on its control. Amounts may be
typed with thousands separators ("1,250,000.00"); they reach the services without them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, get_args

from frontend.amounts import plain_amount
from frontend.form_errors import FormErrors, convert_body, form_text
from frontend.templating import amount
from registry.errors import DomainError, InvalidInputError
from registry.ledger_rules import BALANCE_COMPONENTS, POSTING_RULES
from registry.schemas.liens import LienUpdate, RegistrationMove
from registry.schemas.loans import Classification, LoanStatus, LoanUpdate, PostingCreate

LOAN_STATUSES: tuple[str, ...] = get_args(LoanStatus)
CLASSIFICATIONS: tuple[str, ...] = get_args(Classification)
POSTING_KINDS: tuple[str, ...] = tuple(POSTING_RULES)

# A refusal about something the form has no control for, said as the desk would say it.
FIELD_WORDS = {
    "loan_refs": "An own lien must secure at least one loan before it is registered: add its loans first.",
}
_BELOW_ZERO = re.compile(r"^would take (\w+) below zero \(outstanding (-?[0-9.]+)\)$")
_CANNOT_CARRY = re.compile(r"^a (\w+) posting cannot carry (\w+)$")


def plain_words(reason: str) -> str:
    """A service's reason as the page says it: the ledger's terms become a sentence about the loan."""
    if found := _BELOW_ZERO.match(reason):
        return f"more than the {found.group(1)} outstanding, which is {amount(found.group(2))}"
    if found := _CANNOT_CARRY.match(reason):
        kind = found.group(1).replace("_", " ")
        return f"a {kind} does not move {found.group(2)}; leave it at 0"
    if reason == "a posting must move at least one component":
        return "enter an amount in at least one of principal, interest, penalty or fees"
    return reason


@dataclass
class RecordForm(FormErrors):
    """The form as typed and the errors by control; `general` holds what no control is about."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    placed: set[str] = field(default_factory=set)

    def add(self, name: str, reason: str) -> None:
        reason = plain_words(reason)
        if name in self.errors:
            if reason not in self.errors[name]:
                self.errors[name] = f"{self.errors[name]}; {reason}"
        else:
            self.errors[name] = reason

    def unplaced(self) -> list[str]:
        """Errors about no control on the page, in words alone: the service's field names mean nothing here."""
        return self.general + [
            FIELD_WORDS.get(name, reason) if name in FIELD_WORDS else reason[:1].upper() + reason[1:]
            for name, reason in self.errors.items()
            if name not in self.placed
        ]

    def refused(self, exc: DomainError) -> int:
        """Put a service's refusal on the form; the status to answer with."""
        if isinstance(exc, InvalidInputError):
            for service_field, reason in exc.errors:
                self.add(service_field, reason)
        else:
            self.general.append(exc.detail)
        return exc.status_code


def read_form(form: Mapping[str, Any], names: tuple[str, ...]) -> RecordForm:
    return RecordForm(values={name: form_text(form, name) for name in names}, placed=set(names))


def _day(out: RecordForm, name: str, *, required: bool, missing: str = "enter a date") -> str | None:
    text = out.values.get(name, "")
    if not text:
        if required:
            out.add(name, missing)
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        out.add(name, f"{text!r} is not a date such as 2026-03-01")
        return None


def _choice(out: RecordForm, name: str, allowed: tuple[str, ...], missing: str) -> str:
    value = out.values.get(name, "")
    if value not in allowed:
        out.add(name, missing if not value else f"{value!r} is not one of the choices")
    return value


POSTING_FIELDS = ("kind", "value_date", *BALANCE_COMPONENTS, "memo")


def read_posting(form: Mapping[str, Any]) -> tuple[RecordForm, PostingCreate | None]:
    out = read_form(form, POSTING_FIELDS)
    body: dict[str, Any] = {"kind": _choice(out, "kind", POSTING_KINDS, "choose what kind of posting this is")}
    if day := _day(out, "value_date", required=True, missing="enter the value date"):
        body["value_date"] = day
    for name in BALANCE_COMPONENTS:
        body[name] = plain_amount(out.values.get(name, "")) or "0"
    body["memo"] = out.values.get("memo", "")
    return out, convert_body(out, body, PostingCreate)


STATUS_FIELDS = ("status", "classification", "maturity")


def read_loan_status(form: Mapping[str, Any]) -> tuple[RecordForm, LoanUpdate | None]:
    out = read_form(form, STATUS_FIELDS)
    body: dict[str, Any] = {
        "status": _choice(out, "status", LOAN_STATUSES, "choose the loan's status"),
        "classification": _choice(out, "classification", CLASSIFICATIONS, "choose the five-tier classification"),
        "maturity": _day(out, "maturity", required=False),
    }
    return out, convert_body(out, body, LoanUpdate)


REGISTRATION_FIELDS = ("to", "registration_number", "authority", "perfected_at", "expires_on", "reason")


def _moment(out: RecordForm, name: str) -> str | None:
    """A datetime-local value ("2026-03-01T09:30") read as UTC, as the label says."""
    text = out.values.get(name, "")
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        out.add(name, f"{text!r} is not a date and time such as 2026-03-01T09:30")
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def read_registration(form: Mapping[str, Any]) -> tuple[RecordForm, RegistrationMove | None]:
    out = read_form(form, REGISTRATION_FIELDS)
    body: dict[str, Any] = {"to": out.values.get("to", ""), "reason": out.values.get("reason", "")}
    for name in ("registration_number", "authority"):
        if out.values.get(name):
            body[name] = out.values[name]
    if moment := _moment(out, "perfected_at"):
        body["perfected_at"] = moment
    if day := _day(out, "expires_on", required=False):
        body["expires_on"] = day
    return out, convert_body(out, body, RegistrationMove)


def read_renewal(form: Mapping[str, Any]) -> tuple[RecordForm, LienUpdate | None]:
    out = read_form(form, ("expires_on",))
    day = _day(out, "expires_on", required=True, missing="enter the new expiry date")
    return out, convert_body(out, {"expires_on": day}, LienUpdate)


def read_reversal(form: Mapping[str, Any]) -> str:
    return form_text(form, "memo")[:255]
