"""The disposal forms: what an officer typed, read into the services' request shapes, and every complaint tied
to the form control it is about.

Controls are named as the services name the fields (`starting_price`, `expenses[2].amount`), so a refusal the
service raises lands next to the control that caused it. Blank expense rows are skipped, so the service's
index of an expense is not the form's row: `rows` maps one to the other. Amounts may be typed with thousands
separators ("810,000.01"); they reach the services without them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, get_args

from auctions.rules.profiles import PROFILES
from auctions.schemas.cases import CaseMoveName, CaseOpen, OfferCreate, RoundCreate
from auctions.schemas.settlement import ExpenseKind, SettlementProposal, WaterfallOrder, WaterfallRequest
from frontend.amounts import plain_amount
from frontend.form_errors import FormErrors, convert_body, form_text
from registry.errors import DomainError, InvalidInputError

EXPENSE_ROWS = 4
EXPENSE_KINDS: tuple[str, ...] = get_args(ExpenseKind)
WATERFALL_ORDERS: tuple[str, ...] = get_args(WaterfallOrder)
CASE_MOVES: tuple[str, ...] = get_args(CaseMoveName)
ROUND_AMOUNTS = ("starting_price", "increment", "deposit")
MAX_DOCUMENTS = 20

_INDEXED = re.compile(r"^(expenses|asset_refs)\[(\d+)\](.*)$")


@dataclass
class DisposalForm(FormErrors):
    """The form as typed and the errors by control; `general` holds what no control is about."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # service index of an expense -> form row
    placed: set[str] = field(default_factory=set)

    def add(self, name: str, reason: str) -> None:
        if name in self.errors:
            if reason not in self.errors[name]:
                self.errors[name] = f"{self.errors[name]}; {reason}"
        else:
            self.errors[name] = reason

    def form_name(self, service_field: str) -> str:
        """expenses[0].amount as the service names it -> the form's row, expenses[2].amount; asset_refs[3] ->
        the one asset refs control."""
        found = _INDEXED.match(service_field)
        if not found:
            return service_field
        part, index, rest = found.group(1), int(found.group(2)), found.group(3)
        if part == "asset_refs":
            return "asset_refs"
        return f"expenses[{self.rows[index]}]{rest}" if index < len(self.rows) else service_field

    def refused(self, exc: DomainError) -> int:
        """Put a service's refusal on the form; the status to answer with."""
        if isinstance(exc, InvalidInputError):
            for service_field, reason in exc.errors:
                self.add(self.form_name(service_field), reason)
        else:
            self.general.append(exc.detail)
        return exc.status_code


def _values(form: Mapping[str, Any]) -> dict[str, str]:
    return {name: form_text(form, name) for name in form}


def _day(out: DisposalForm, name: str, text: str) -> str | None:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        out.add(name, f"{text!r} is not a date such as 2026-03-01")
        return None


def _moment(out: DisposalForm, name: str, text: str) -> str | None:
    """A datetime-local value ("2026-03-01T09:30") read as UTC, in the ISO form the services take."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        out.add(name, f"{text!r} is not a date and time such as 2026-03-01T09:30")
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def split_refs(text: str) -> list[str]:
    return [ref for ref in re.split(r"[,\s]+", text) if ref]


def read_open(form: Mapping[str, Any]) -> tuple[DisposalForm, CaseOpen | None]:
    out = DisposalForm(values=_values(form), placed={"ref", "asset_refs", "profile"})
    ref, profile = out.values.get("ref", ""), out.values.get("profile", "")
    refs = split_refs(out.values.get("asset_refs", ""))
    if not ref:
        out.add("ref", "give the case a ref, such as DC-2026-007")
    if not refs:
        out.add("asset_refs", "list the assets of the lot, separated by commas or spaces")
    if profile not in PROFILES:
        out.add("profile", "choose the rules the disposal follows" if not profile else f"unknown profile {profile!r}")
    return out, convert_body(out, {"ref": ref, "asset_refs": refs, "profile": profile}, CaseOpen)


def read_round(form: Mapping[str, Any]) -> tuple[DisposalForm, RoundCreate | None]:
    names = (*ROUND_AMOUNTS, "notice_published_on", "starts_at", "ends_at")
    out = DisposalForm(values=_values(form), placed=set(names))
    body: dict[str, Any] = {}
    for name in ROUND_AMOUNTS:
        text = plain_amount(out.values.get(name, ""))
        if not text:
            out.add(name, "enter an amount such as 630,000.00")
        body[name] = text
    if notice := out.values.get("notice_published_on", ""):
        body["notice_published_on"] = _day(out, "notice_published_on", notice)
    else:
        out.add("notice_published_on", "enter the day the public notice went out")
    for name in ("starts_at", "ends_at"):
        if text := out.values.get(name, ""):
            body[name] = _moment(out, name, text)
        else:
            out.add(name, "enter a date and time (UTC)")
    return out, convert_body(out, body, RoundCreate)


def read_offer(form: Mapping[str, Any]) -> tuple[DisposalForm, OfferCreate | None]:
    out = DisposalForm(values=_values(form), placed={"buyer", "price", "terms", "notice_published_on", "document_ids"})
    body: dict[str, Any] = {"buyer": out.values.get("buyer", ""), "terms": out.values.get("terms", "")}
    if not body["buyer"]:
        out.add("buyer", "name the buyer")
    body["price"] = plain_amount(out.values.get("price", ""))
    if not body["price"]:
        out.add("price", "enter the price offered")
    if notice := out.values.get("notice_published_on", ""):
        body["notice_published_on"] = _day(out, "notice_published_on", notice)
    if documents := out.values.get("document_ids", ""):
        body["document_ids"] = _documents(out, "document_ids", documents)
    return out, convert_body(out, body, OfferCreate)


def _documents(out: DisposalForm, name: str, text: str) -> list[int]:
    ids: list[int] = []
    for part in split_refs(text.replace("#", " ")):
        if not part.isdigit() or not 1 <= int(part) <= 2**31 - 1:
            out.add(name, f"{part!r} is not a document id; give the numbers, separated by commas")
            return []
        ids.append(int(part))
    if len(ids) > MAX_DOCUMENTS:
        out.add(name, f"at most {MAX_DOCUMENTS} documents per expense")
    return ids


def _expenses(out: DisposalForm, with_documents: bool) -> list[dict[str, Any]]:
    """The expense rows typed, blank rows left out; `rows` remembers which row each came from."""
    expenses: list[dict[str, Any]] = []
    out.placed.add("expenses")
    for i in range(EXPENSE_ROWS):
        at = f"expenses[{i}]"
        names = {part: f"{at}.{part}" for part in ("kind", "amount", "document_ids")}
        out.placed.update(names.values())
        kind, amount = out.values.get(names["kind"], ""), plain_amount(out.values.get(names["amount"], ""))
        documents = out.values.get(names["document_ids"], "") if with_documents else ""
        if not kind and not amount and not documents:
            continue
        if kind not in EXPENSE_KINDS:
            out.add(names["kind"], "choose what the expense was for" if not kind else f"unknown kind {kind!r}")
        if not amount:
            out.add(names["amount"], "enter the amount paid")
        expense: dict[str, Any] = {"kind": kind, "amount": amount}
        if documents:
            expense["document_ids"] = _documents(out, names["document_ids"], documents)
        expenses.append(expense)
        out.rows.append(i)
    return expenses


def _order(out: DisposalForm) -> str | None:
    order = out.values.get("profile", "")
    if order and order not in WATERFALL_ORDERS:
        out.add("profile", f"unknown order {order!r}; one of {', '.join(WATERFALL_ORDERS)}")
    return order or None


def read_waterfall(form: Mapping[str, Any]) -> tuple[DisposalForm, WaterfallRequest | None]:
    out = DisposalForm(values=_values(form), placed={"gross_proceeds", "profile"})
    gross = plain_amount(out.values.get("gross_proceeds", ""))
    if not gross:
        out.add("gross_proceeds", "enter the gross proceeds, such as 810,000.00")
    body = {"gross_proceeds": gross, "expenses": _expenses(out, with_documents=False), "profile": _order(out)}
    return out, convert_body(out, body, WaterfallRequest)


def read_settlement(form: Mapping[str, Any]) -> tuple[DisposalForm, SettlementProposal | None]:
    out = DisposalForm(values=_values(form), placed={"gross_proceeds", "profile"})
    body = {"expenses": _expenses(out, with_documents=True), "profile": _order(out)}
    return out, convert_body(out, body, SettlementProposal)


def read_move(form: Mapping[str, Any]) -> tuple[str, str]:
    """The move asked for and its memo; an unknown move goes to the service, which refuses it by name."""
    return form_text(form, "to"), form_text(form, "memo")[:255]
