from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from registry.auth import roles
from registry.controllers.params import RowId
from registry.roles import LOAN_WRITERS, REGISTRY_READERS
from registry.schemas.common import Page, Paging
from registry.schemas.loans import (
    Classification,
    LoanCreate,
    LoanRead,
    LoanStatus,
    LoanUpdate,
    PostingCreate,
    PostingRead,
    ReversalCreate,
)
from registry.schemas.misc import UserRead
from registry.services import loans


class LoanController(Controller):
    path = "/api/loans"
    tags = ["loans"]

    @post(operation_id="CreateLoan", name="loans:create", opt=roles(LOAN_WRITERS))
    async def create_loan(self, request: Request[UserRead, Any, Any], data: JSONBody[LoanCreate]) -> LoanRead:
        return await loans.create_loan(data, request.user.username)

    @get(operation_id="ListLoans", name="loans:list", opt=roles(REGISTRY_READERS))
    async def list_loans(
        self,
        paging: NamedDependency[Paging],
        q: FromQuery[str | None] = None,
        borrower_ref: FromQuery[str | None] = None,
        status: FromQuery[LoanStatus | None] = None,
        classification: FromQuery[Classification | None] = None,
        currency: FromQuery[str | None] = None,
    ) -> Page[LoanRead]:
        return await loans.list_loans(
            paging, q=q, borrower_ref=borrower_ref, status=status, classification=classification, currency=currency
        )

    @get("/{ref:str}", operation_id="GetLoan", name="loans:get", opt=roles(REGISTRY_READERS))
    async def get_loan(self, ref: FromPath[str]) -> LoanRead:
        return await loans.get_loan(ref)

    @patch("/{ref:str}", operation_id="UpdateLoan", name="loans:update", opt=roles(LOAN_WRITERS))
    async def update_loan(
        self, request: Request[UserRead, Any, Any], ref: FromPath[str], data: JSONBody[LoanUpdate]
    ) -> LoanRead:
        return await loans.update_loan(ref, data, request.user.username)

    @get("/{ref:str}/postings", operation_id="ListPostings", name="loans:postings", opt=roles(REGISTRY_READERS))
    async def list_postings(self, ref: FromPath[str], paging: NamedDependency[Paging]) -> Page[PostingRead]:
        return await loans.list_postings(ref, paging)

    @post("/{ref:str}/postings", operation_id="AddPosting", name="loans:post", opt=roles(LOAN_WRITERS))
    async def add_posting(
        self, request: Request[UserRead, Any, Any], ref: FromPath[str], data: JSONBody[PostingCreate]
    ) -> PostingRead:
        return await loans.add_posting(ref, data, request.user.username)

    @post(
        "/{ref:str}/postings/{posting_id:int}/reversal",
        operation_id="ReversePosting",
        name="loans:reverse",
        opt=roles(LOAN_WRITERS),
    )
    async def reverse_posting(
        self,
        request: Request[UserRead, Any, Any],
        ref: FromPath[str],
        posting_id: RowId,
        data: JSONBody[ReversalCreate],
    ) -> PostingRead:
        return await loans.reverse_posting(ref, posting_id, data.memo, request.user.username)
