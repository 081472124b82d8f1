"""The risk-warning home page's figures (DESIGN 9): one count per signal, each from one read of its package's
service, each opening the list behind it, the role's own signals first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date

from auctions.services import signals as disposal_signals
from frontend.templating import amount
from registry.roles import REGISTRY_READERS, Role
from registry.services.parcel_overlaps import double_pledge_asset_ids
from valuation.services import coverage, valuations, worklist
from valuation.services.breach_news import newly_in_breach
from valuation.services.coverage_runs import CoverageRefused, Version, book_version

EXPIRY_WINDOW_DAYS = 60  # DESIGN 9: registrations expiring within 60 days
CASE_WINDOW_DAYS = 30
SHOWN_ITEMS = 8  # a signal without a list page of its own shows its first records inline


@dataclass(frozen=True, slots=True)
class Item:
    label: str
    href: str
    detail: str
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class Signal:
    key: str
    label: str
    count: int | None  # None: the figure cannot be given here (the note says why)
    href: str
    note: str = ""
    items: list[Item] = field(default_factory=list)


# Each role's own signals, in the order it works them; the others follow in the default order.
DEFAULT_ORDER = (
    "breach",
    "new_breach",
    "registrations",
    "valuations_due",
    "approvals",
    "double_pledge",
    "cases_due",
    "deficiency",
)
OWN_SIGNALS: dict[Role, tuple[str, ...]] = {
    Role.ASSET_MANAGER: ("approvals", "valuations_due", "registrations", "double_pledge"),
    Role.CREDIT_OFFICER: ("breach", "new_breach", "deficiency", "registrations", "double_pledge"),
    Role.DISPOSAL_OFFICER: ("cases_due", "deficiency", "breach"),
}


async def _breach(today: date) -> Signal:
    try:
        summary = await coverage.summary(today, include_unperfected=False)
    except CoverageRefused as refused:
        # A book valued in several currencies needs exchange rates, which the coverage page asks for.
        return Signal(
            "breach", "Loans in LTV breach", None, "/coverage", f"{refused.detail} Open coverage to give them."
        )
    breaches = sum(p.breaches for p in summary.portfolio)
    loans = sum(p.loans for p in summary.portfolio)
    note = f"of {loans:,} live loans" if loans else ""
    return Signal("breach", "Loans in LTV breach", breaches, "/coverage/loans?flag=breach", note)


async def _new_breach(today: date) -> Signal:
    label = "Loans newly in breach since the last revaluation"
    try:
        day, loans = await newly_in_breach(today)
    except CoverageRefused as refused:
        return Signal("new_breach", label, None, "/coverage", f"{refused.detail} Open coverage to give them.")
    items = [Item(ref, f"/loans/{ref}", "in breach now") for ref in loans[:SHOWN_ITEMS]]
    note = f"not in breach the day before {day.isoformat()}, the last approved valuation" if day else ""
    return Signal("new_breach", label, len(loans), "/coverage/loans?flag=breach", note, items)


async def _registrations(today: date) -> Signal:
    expiring, lapsed = await worklist.count_liens_expiring(today, EXPIRY_WINDOW_DAYS)
    note = f"{lapsed:,} already past expiry but still marked registered" if lapsed else ""
    return Signal(
        "registrations", f"Registrations expiring within {EXPIRY_WINDOW_DAYS} days", expiring, "/worklist#liens", note
    )


async def _valuations_due(today: date) -> Signal:
    count = await worklist.count_assets_due(today)
    return Signal("valuations_due", "Assets with a stale or no approved valuation", count, "/worklist")


async def _approvals(_today: date) -> Signal:
    count = await valuations.count_waiting()
    return Signal("approvals", "Valuations waiting for a second pair of eyes", count, "/valuations")


async def _double_pledge(_today: date) -> Signal:
    count = len(await double_pledge_asset_ids())
    return Signal("double_pledge", "Assets possibly pledged twice (parcels overlap)", count, "/overlaps")


async def _cases_due(today: date) -> Signal:
    due = await disposal_signals.cases_due(today, CASE_WINDOW_DAYS)
    items = [
        Item(
            d.case_ref,
            f"/disposals/{d.case_ref}",
            f"{d.what} {'was due' if d.overdue(today) else 'by'} {d.due_on.isoformat()}",
            d.overdue(today),
        )
        for d in due[:SHOWN_ITEMS]
    ]
    overdue = sum(1 for d in due if d.overdue(today))
    note = f"{overdue} overdue" if overdue else ""
    label = f"Disposal cases with a legal step due within {CASE_WINDOW_DAYS} days"
    return Signal("cases_due", label, len(due), "/disposals", note, items)


async def _deficiency(_today: date) -> Signal:
    loans = await disposal_signals.deficiency_loans()
    items = [
        Item(d.loan_ref, f"/loans/{d.loan_ref}", f"{amount(d.amount)} {d.currency} left after {d.case_ref}")
        for d in loans[:SHOWN_ITEMS]
    ]
    return Signal(
        "deficiency", "Loans left with a deficiency after settlement", len(loans), "/disposals?state=settled", "", items
    )


SIGNALS: dict[str, Callable[[date], Awaitable[Signal]]] = {
    "breach": _breach,
    "new_breach": _new_breach,
    "registrations": _registrations,
    "valuations_due": _valuations_due,
    "approvals": _approvals,
    "double_pledge": _double_pledge,
    "cases_due": _cases_due,
    "deficiency": _deficiency,
}


def order_for(role: Role) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the role's own signals, the others), both in working order; nothing for a role that reads no registry."""
    if role not in REGISTRY_READERS:
        return (), ()
    own = OWN_SIGNALS.get(role, ())
    return own, tuple(k for k in DEFAULT_ORDER if k not in own)


# The figures of the book as it stood at one audit head: every change to the book appends an audit event, so an
# unchanged head means unchanged figures. On the 1M-loan book the assets-due count alone takes 2-3 s; a warm home
# page reads the head (one indexed query) and answers from here. One head is kept at a time.
_CACHE: dict[tuple[Version, date, str], Signal] = {}


async def _signal(key: str, version: Version, today: date) -> Signal:
    found = _CACHE.get((version, today, key))
    if found is None:
        if _CACHE and next(iter(_CACHE))[0] != version:
            _CACHE.clear()
        found = _CACHE[(version, today, key)] = await SIGNALS[key](today)
    return found


async def signals_for(role: Role, today: date) -> tuple[list[Signal], list[Signal]]:
    own, others = order_for(role)
    if not own and not others:
        return [], []
    version = await book_version()
    # One after another on the request's connection: each is a single read when not cached.
    return [await _signal(k, version, today) for k in own], [await _signal(k, version, today) for k in others]
