"""Disposal cases: opening a lot, reading the case file, and the moves users make by hand.

Every write is one transaction with the case row locked first, so the state checked is the state changed,
and the audit event is written inside it (registry/db.py)."""

from __future__ import annotations

from typing import Any

from auctions.rules.case_life import LIVE, CaseState, RefusedCaseMove, check_move
from auctions.rules.pricing import in_lieu_price
from auctions.rules.profiles import profile
from auctions.schemas.cases import CaseMoveRequest, CaseOpen, CaseRead, CaseSummary
from auctions.services import case_file
from auctions.services.appraisals import appraisals_for
from auctions.services.closing import ENTITY, case_write, close_due_rounds, settle_due
from auctions.services.lot import read_lot
from auctions.tables import CaseAsset, CaseLoan, DisposalCase
from registry import audit, clock
from registry.db import lock_row
from registry.errors import FieldErrors, InvalidInputError, NotFoundError, StateConflictError
from registry.schemas.common import Page, Paging
from registry.services.assets import set_asset_status
from registry.services.common import check_ref, contains, ensure_ref_free
from registry.tables import Asset

# An asset already being sold, or gone, cannot be put into a lot.
OPENABLE_ASSET_STATUSES = frozenset({"active", "seized"})


def refused(exc: RefusedCaseMove) -> StateConflictError:
    return StateConflictError(str(exc), current=exc.state.value, allowed=exc.allowed)


async def locked_case(ref: str) -> dict[str, Any]:
    row = await DisposalCase.select(DisposalCase.id).where(DisposalCase.ref == ref).first()
    if row is None:
        raise NotFoundError("disposal case", ref)
    await lock_row(DisposalCase, row["id"])
    locked = await DisposalCase.select().where(DisposalCase.id == row["id"]).first()
    assert locked is not None  # the row is locked, so it cannot have gone since the read above
    # A round whose end has passed is closed before anything else is decided on the case.
    if await close_due_rounds(dict(locked), "system"):
        locked = await DisposalCase.select().where(DisposalCase.id == row["id"]).first()
        assert locked is not None
    return dict(locked)


async def open_case(data: CaseOpen, actor: str) -> CaseRead:
    errors = FieldErrors()
    check_ref(errors, "ref", data.ref)
    if len(set(data.asset_refs)) != len(data.asset_refs):
        errors.add("asset_refs", "an asset is listed twice")
    errors.raise_if_any()
    async with case_write():
        await ensure_ref_free(DisposalCase, data.ref, "disposal case")
        rows = await Asset.select(Asset.id, Asset.ref, Asset.kind, Asset.owner, Asset.status).where(
            Asset.ref.is_in(list(data.asset_refs))
        )
        by_ref = {r["ref"]: r for r in rows}
        for i, ref in enumerate(data.asset_refs):
            if ref not in by_ref:
                errors.add(f"asset_refs[{i}]", f"no asset with ref {ref!r}")
        errors.raise_if_any()
        assets = [by_ref[ref] for ref in data.asset_refs]
        for row in sorted(assets, key=lambda r: r["id"]):  # one lock order, so two openers cannot deadlock
            await lock_row(Asset, row["id"])
        await _refuse_if_in_live_case([a["id"] for a in assets])
        _check_lot(assets, errors)
        today = clock.today()
        appraisals = await appraisals_for([(a["id"], a["ref"], a["kind"]) for a in assets], today, errors)
        errors.raise_if_any()
        currencies = {a.currency for a in appraisals.values()}
        if len(currencies) > 1:
            raise InvalidInputError.one("asset_refs", f"the appraisals are in several currencies: {sorted(currencies)}")
        currency = currencies.pop()
        book = await read_lot([a["id"] for a in assets])
        book.check_currency(currency)
        loans = [loan for loan in book.loans.values() if loan.outstanding > 0]
        if not loans:
            raise InvalidInputError.one("asset_refs", "no loan of ours with a balance is secured by this lot")
        now = clock.now()
        case_row: dict[str, Any] = {
            "ref": data.ref,
            "profile": data.profile,
            "owner": assets[0]["owner"],
            "currency": currency,
            "state": CaseState.OPEN.value,
            "appraisal": sum(a.amount for a in appraisals.values()),
            "exposure_at_open": sum(loan.outstanding for loan in loans),
            "opened_by": actor,
            "opened_at": now,
        }
        case_id = (await DisposalCase.insert(DisposalCase(**case_row)).returning(DisposalCase.id))[0]["id"]
        previous = await set_asset_status(
            [a["id"] for a in assets], "in_disposal", actor, memo=f"disposal case {data.ref} opened"
        )
        await CaseAsset.insert(
            *(
                CaseAsset(
                    case=case_id,
                    asset=a["id"],
                    valuation=appraisals[a["id"]].valuation_id,
                    appraisal=appraisals[a["id"]].amount,
                    valued_on=appraisals[a["id"]].valued_on,
                    previous_status=previous.get(a["id"], a["status"]),
                )
                for a in assets
            )
        )
        await CaseLoan.insert(
            *(CaseLoan(case=case_id, loan=loan.id, exposure_at_open=loan.outstanding) for loan in loans)
        )
        await audit.record(
            actor,
            ENTITY,
            data.ref,
            "open",
            after={
                "profile": data.profile,
                "asset_refs": list(data.asset_refs),
                "appraisal": case_row["appraisal"],
                "exposure_at_open": case_row["exposure_at_open"],
                "currency": currency,
                "loan_refs": sorted(loan.ref for loan in loans),
            },
        )
    return await case_file.read_case(data.ref)


def _check_lot(assets: list[dict[str, Any]], errors: FieldErrors) -> None:
    owners = {a["owner"] for a in assets}
    if len(owners) > 1:
        errors.add("asset_refs", "a lot is sold together, so its assets must have one owner")
    for i, a in enumerate(assets):
        if a["status"] not in OPENABLE_ASSET_STATUSES:
            errors.add(f"asset_refs[{i}]", f"asset {a['ref']} is {a['status']}; only active or seized assets are sold")


async def _refuse_if_in_live_case(asset_ids: list[int]) -> None:
    live = [s.value for s in LIVE]
    taken = await CaseAsset.select(
        CaseAsset.asset.ref.as_alias("asset_ref"), CaseAsset.case.ref.as_alias("case_ref")
    ).where(CaseAsset.asset.is_in(asset_ids) & CaseAsset.case.state.is_in(live))
    if taken:
        first = taken[0]
        raise StateConflictError(
            f"asset {first['asset_ref']} is already in open disposal case {first['case_ref']}",
            current="in_disposal",
            allowed=[],
        )


async def move_case(ref: str, data: CaseMoveRequest, actor: str) -> CaseRead:
    async with case_write():
        case = await locked_case(ref)
        prof = profile(case["profile"])
        facts = await case_file.facts(case)
        try:
            target = check_move(prof, facts, data.to)
        except RefusedCaseMove as exc:
            raise refused(exc) from None
        changes: dict[Any, Any] = {"state": target.value}
        now = clock.now()
        if data.to == "start_private_sale":
            changes["private_sale_started_on"] = now.date()
        elif data.to == "take_in_lieu":
            changes.update(
                sale_kind="in_lieu", sale_price=in_lieu_price(facts.failed_rounds), buyer="creditor", sold_at=now
            )
        elif data.to == "withdraw":
            changes["withdrawn_at"] = now
            await _restore_assets(case["id"], ref, actor)
        elif data.to == "close":
            changes["closed_at"] = now
        await DisposalCase.update(changes).where(DisposalCase.id == case["id"])
        await audit.record(
            actor,
            ENTITY,
            ref,
            data.to,
            before={"state": case["state"]},
            after={**{k: v for k, v in changes.items() if k != "state"}, "state": target.value, "memo": data.memo},
        )
    return await case_file.read_case(ref)


async def _restore_assets(case_id: int, ref: str, actor: str) -> None:
    rows = await CaseAsset.select(CaseAsset.asset, CaseAsset.previous_status).where(CaseAsset.case == case_id)
    by_status: dict[str, list[int]] = {}
    for r in rows:
        by_status.setdefault(r["previous_status"], []).append(r["asset"])
    for status, ids in sorted(by_status.items()):
        await set_asset_status(ids, status, actor, memo=f"disposal case {ref} withdrawn")


async def get_case(ref: str) -> CaseRead:
    await settle_due(ref)
    return await case_file.read_case(ref)


async def list_cases(
    paging: Paging,
    *,
    state: str | None = None,
    profile_name: str | None = None,
    asset_ref: str | None = None,
    owner_ref: str | None = None,
    q: str | None = None,
) -> Page[CaseSummary]:
    where: list[Any] = []
    if state:
        where.append(DisposalCase.state == state)
    if profile_name:
        where.append(DisposalCase.profile == profile_name)
    if owner_ref:
        where.append(DisposalCase.owner.ref == owner_ref)
    if asset_ref:
        where.append(DisposalCase.id.is_in(CaseAsset.select(CaseAsset.case).where(CaseAsset.asset.ref == asset_ref)))
    if q:
        where.append(contains(DisposalCase.ref, q))
    total = await DisposalCase.count().where(*where)
    rows = (
        await DisposalCase.select(*DisposalCase.all_columns(), DisposalCase.owner.ref.as_alias("owner_ref"))
        .where(*where)
        .order_by(DisposalCase.opened_at, ascending=False)
        .order_by(DisposalCase.ref)
        .limit(paging.page_size)
        .offset(paging.offset)
    )
    assets = await case_file.asset_refs_of([r["id"] for r in rows])
    return Page([case_file.summary(r, assets.get(r["id"], [])) for r in rows], total, paging.page, paging.page_size)
