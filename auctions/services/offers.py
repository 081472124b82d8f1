"""Private sale (变卖): offers checked against the profile's floor and window, accepted by a second
disposal officer (four eyes), which sells the lot."""

from __future__ import annotations

import json
from typing import Any

from auctions.rules.case_life import CaseState, RefusedCaseMove, check_move
from auctions.rules.pricing import check_offer
from auctions.rules.profiles import profile
from auctions.schemas.cases import CaseRead, OfferCreate
from auctions.services import case_file
from auctions.services.cases import locked_case, refused
from auctions.services.closing import ENTITY, case_write
from auctions.services.evidence import check_documents
from auctions.tables import DisposalCase, SaleOffer
from registry import audit, clock
from registry.errors import FieldErrors, NotFoundError, StateConflictError
from registry.services.common import check_amount, check_text
from valuation.services.valuations import FourEyesError

PENDING, ACCEPTED, LAPSED = "pending", "accepted", "lapsed"


def _refusals(errors: FieldErrors, case: dict[str, Any], facts: Any, price: int, notice: Any, accepting: bool) -> None:
    for refusal in check_offer(
        profile(case["profile"]),
        price=price,
        currency=case["currency"],
        failed=facts.failed_rounds,
        private_sale_started_on=case["private_sale_started_on"],
        notice_published_on=notice,
        today=clock.today(),
        accepting=accepting,
    ):
        errors.add(refusal.field, refusal.reason)


async def make_offer(case_ref: str, data: OfferCreate, actor: str) -> CaseRead:
    errors = FieldErrors()
    async with case_write():
        case = await locked_case(case_ref)
        if case["state"] != CaseState.PRIVATE_SALE.value:
            facts = await case_file.facts(case)
            raise StateConflictError(
                f"offers are taken during a private sale; the case is {case['state']}",
                current=case["state"],
                allowed=case_file.allowed(case, facts),
            )
        facts = await case_file.facts(case)
        buyer = data.buyer.strip()
        if not buyer:
            errors.add("buyer", "must not be empty")
        price = check_amount(errors, "price", data.price, case["currency"])
        notice = data.notice_published_on or clock.today()
        if price is not None:
            _refusals(errors, case, facts, price, notice, accepting=False)
        terms = check_text(errors, "terms", data.terms, 4000, required=False)
        await check_documents([("document_ids", data.document_ids)], errors)
        errors.raise_if_any()
        row: dict[str, Any] = {
            "case": case["id"],
            "buyer": buyer,
            "price": price,
            "terms": terms,
            "document_ids": json.dumps(sorted(set(data.document_ids))),
            "notice_published_on": notice,
            "status": PENDING,
            "made_by": actor,
            "made_at": clock.now(),
        }
        row["id"] = (await SaleOffer.insert(SaleOffer(**row)).returning(SaleOffer.id))[0]["id"]
        await audit.record(
            actor,
            ENTITY,
            case_ref,
            "offer",
            after={"offer_id": row["id"], "buyer": buyer, "price": price, "notice_published_on": notice},
        )
    return await case_file.read_case(case_ref)


async def accept_offer(case_ref: str, offer_id: int, actor: str) -> CaseRead:
    async with case_write():
        case = await locked_case(case_ref)
        offer = await SaleOffer.select().where((SaleOffer.id == offer_id) & (SaleOffer.case == case["id"])).first()
        if offer is None:
            raise NotFoundError("offer", offer_id)
        facts = await case_file.facts(case)
        try:
            check_move(profile(case["profile"]), facts, "accept_offer")
        except RefusedCaseMove as exc:
            raise refused(exc) from None
        if offer["status"] != PENDING:
            raise StateConflictError(f"offer {offer_id} is {offer['status']}", current=offer["status"], allowed=[])
        if offer["made_by"] == actor:
            raise FourEyesError(f"four eyes: {actor} recorded offer {offer_id}, so another disposal officer accepts it")
        errors = FieldErrors()
        _refusals(errors, case, facts, offer["price"], offer["notice_published_on"], accepting=True)
        errors.raise_if_any()
        now = clock.now()
        await SaleOffer.update(
            {SaleOffer.status: ACCEPTED, SaleOffer.accepted_by: actor, SaleOffer.accepted_at: now}
        ).where(SaleOffer.id == offer_id)
        await SaleOffer.update({SaleOffer.status: LAPSED}).where(
            (SaleOffer.case == case["id"]) & (SaleOffer.status == PENDING)
        )
        await DisposalCase.update(
            {
                DisposalCase.state: CaseState.SOLD.value,
                DisposalCase.sale_kind: "private_sale",
                DisposalCase.sale_price: offer["price"],
                DisposalCase.buyer: offer["buyer"],
                DisposalCase.sold_at: now,
            }
        ).where(DisposalCase.id == case["id"])
        await audit.record(
            actor,
            ENTITY,
            case_ref,
            "accept_offer",
            before={"state": case["state"]},
            after={"state": "sold", "offer_id": offer_id, "buyer": offer["buyer"], "price": offer["price"]},
        )
    return await case_file.read_case(case_ref)
