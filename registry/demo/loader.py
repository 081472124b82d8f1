"""The demo book behind `collateral serve --demo`: one user per role and a realistic recovery book.

Everything goes through the services, so the audit log records the demo like any other work, and
all of it runs in one outer write transaction (the services' transactions join it): the demo loads
whole or not at all, and on SQLite one transaction is far faster than thousands of small commits.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any, TypeVar

import msgspec

from registry.db import lock_named, write_transaction
from registry.demo.book import DEFAULT_SEED, DemoBook, LienPlan, LoanPlan, plan_book
from registry.ledger_rules import BALANCE_COMPONENTS
from registry.money import format_amount, money_or_none
from registry.roles import Role
from registry.schemas.assets import AssetCreate
from registry.schemas.liens import LienCreate, RegistrationMove
from registry.schemas.loans import LoanCreate, PostingCreate
from registry.schemas.parties import PartyCreate
from registry.services import assets, documents, ledger, liens, loans, parties, users
from registry.tables import AppUser, Asset, AuditEvent, Loan, Party

T = TypeVar("T")

_DEMO_LOCK = 0x64656D6F  # "demo": two servers started with --demo at once load it once
# Who enters what, so the audit log reads like a desk's day rather than one anonymous loader.
CREDIT_DESK = Role.CREDIT_OFFICER.value
COLLATERAL_DESK = Role.ASSET_MANAGER.value
USERS_CREATED_BY = "demo-setup"


def demo_password(role: Role) -> str:
    return f"demo-{role.value}"


async def _refusal(book: DemoBook) -> str | None:
    """Why the demo must not be loaded now, or None."""
    marker = book.parties[0]
    if await Party.exists().where((Party.ref == marker.ref) & (Party.name == marker.name)):
        return (
            f"Demo book already loaded (party {marker.ref} {marker.name} exists); nothing changed. "
            f"Demo users: {_credentials()}."
        )
    held = await Party.count(), await Loan.count(), await Asset.count()
    if any(held):
        # Demo parties and loans mixed into a real book would be indistinguishable from it.
        return (
            f"Demo book not loaded: the database already holds {held[0]} parties, {held[1]} loans and "
            f"{held[2]} assets; the demo loads only into an empty book."
        )
    return None


def _credentials() -> str:
    return ", ".join(f"{role.value} / {demo_password(role)}" for role in Role)


async def _create_users() -> list[str]:
    """Create the demo users; return the names that already existed and were left as they were."""
    kept = [
        r["username"]
        for r in await AppUser.select(AppUser.username).where(AppUser.username.is_in([r.value for r in Role]))
    ]
    new = [role for role in Role if role.value not in kept]
    # Hashed side by side (argon2 releases the interpreter), then written one by one in the demo's transaction.
    hashes = await asyncio.gather(*(users.hash_in_thread(demo_password(role)) for role in new))
    for role, password_hash in zip(new, hashes, strict=True):
        await users.create_user(
            role.value, demo_password(role), role, actor=USERS_CREATED_BY, password_hash=password_hash
        )
    return sorted(kept, key=[r.value for r in Role].index)


def _body(schema: type[T], **fields: Any) -> T:
    """A request body validated exactly as the API would decode it (lengths, literals, dates)."""
    return msgspec.convert(fields, schema)


async def _load_ledger(loan: LoanPlan, loan_id: int) -> None:
    """The loan's postings through the ledger's own checks, in as few writes as its order allows: one batch up
    to each posting the plan reverses, then the reversal (a write per posting cost a third of the demo's load)."""
    batch: list[ledger.LedgerEntry] = []
    for posting in loan.postings:
        amounts = {c: format_amount(getattr(posting, c), loan.currency) for c in BALANCE_COMPONENTS}
        body = _body(PostingCreate, kind=posting.kind, value_date=posting.value_date, memo=posting.memo, **amounts)
        deltas = ledger.posting_deltas(body, loan.currency)
        batch.append(ledger.LedgerEntry(loan_id, body.kind, deltas, body.value_date, body.memo))
        if posting.reversal_memo is not None:
            posted = await ledger.write_postings(batch, CREDIT_DESK, prefix=None)
            batch = []
            await loans.reverse_posting(loan.ref, posted[-1], posting.reversal_memo, CREDIT_DESK)
    await ledger.write_postings(batch, CREDIT_DESK, prefix=None)


async def _load_lien(lien: LienPlan) -> None:
    body = _body(
        LienCreate,
        ref=lien.ref,
        asset_ref=lien.asset_ref,
        kind=lien.kind,
        currency=lien.currency,
        holder=lien.holder,
        loan_refs=lien.loan_refs,
        cap=money_or_none(lien.cap, lien.currency),
        external_claim=money_or_none(lien.external_claim, lien.currency),
        authority=lien.authority,
    )
    await liens.write_lien(body, COLLATERAL_DESK)
    moves = [
        _body(
            RegistrationMove,
            to=step.to,
            registration_number=step.registration_number,
            perfected_at=step.perfected_at,
            expires_on=step.expires_on,
            reason=step.reason,
        )
        for step in lien.steps
    ]
    if moves:
        await liens.apply_moves(lien.ref, moves, COLLATERAL_DESK)


async def _load_book(book: DemoBook) -> None:
    for party in book.parties:
        body = _body(
            PartyCreate, ref=party.ref, name=party.name, kind=party.kind, id_number=party.id_number, status=party.status
        )
        await parties.create_party(body, CREDIT_DESK, Role.CREDIT_OFFICER)
    for loan in book.loans:
        created = await loans.create_loan(
            _body(
                LoanCreate,
                ref=loan.ref,
                borrower_ref=loan.borrower_ref,
                currency=loan.currency,
                status=loan.status,
                classification=loan.classification,
                interest_rate=loan.interest_rate,
                maturity=loan.maturity,
            ),
            CREDIT_DESK,
        )
        await _load_ledger(loan, created.id)
    for asset in book.assets:
        await assets.create_asset(
            _body(
                AssetCreate,
                ref=asset.ref,
                kind=asset.kind,
                owner_ref=asset.owner_ref,
                description=asset.description,
                address=asset.address,
                identifiers=asset.identifiers,
                geometry=asset.geometry,
                status=asset.status,
            ),
            COLLATERAL_DESK,
        )
    for lien in book.liens:
        await _load_lien(lien)
    for doc in book.documents:
        await documents.upload(doc.entity, doc.entity_ref, doc.filename, doc.content_type, doc.content, doc.actor)


def _tally(counts: Counter[str]) -> str:
    return ", ".join(f"{n} {name}" for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _summary(book: DemoBook, kept: list[str], events: int, seconds: float) -> str:
    postings = sum(len(ln.postings) for ln in book.loans)
    reversals = sum(1 for ln in book.loans for p in ln.postings if p.reversal_memo is not None)
    own = sum(1 for lien in book.liens if lien.holder == "own")
    kept_note = (
        (f" Users {', '.join(kept)} already existed and were left unchanged (their demo password may not apply).")
        if kept
        else ""
    )
    return (
        f"Demo book loaded in {seconds:.1f} s: {len(book.parties)} parties "
        f"({_tally(Counter(p.kind for p in book.parties))}; {_tally(Counter(p.status for p in book.parties))}), "
        f"{len(book.loans)} loans ({_tally(Counter(ln.status for ln in book.loans))}; "
        f"{_tally(Counter(ln.currency for ln in book.loans))}) with {postings + reversals} ledger postings "
        f"({reversals} of them reversals), {len(book.assets)} assets "
        f"({_tally(Counter(a.kind for a in book.assets))}), {len(book.liens)} liens ({own} own, "
        f"{len(book.liens) - own} other creditors'; {_tally(Counter(lien.status for lien in book.liens))}), "
        f"{len(book.documents)} documents and {events} audit events. "
        f"Demo users (username / password): {_credentials()}.{kept_note}"
    )


async def load_demo(seed: int = DEFAULT_SEED) -> str:
    """Load the demo book and one user per role into an empty database; return a one-paragraph summary.

    Does nothing (and says why) when the demo is already loaded or the database holds another book.
    """
    started = time.perf_counter()
    book = plan_book(seed)
    async with write_transaction():
        await lock_named(_DEMO_LOCK)
        refusal = await _refusal(book)
        if refusal is not None:
            return refusal
        kept = await _create_users()
        await _load_book(book)
        events = await AuditEvent.count()
    return _summary(book, kept, events, time.perf_counter() - started)
