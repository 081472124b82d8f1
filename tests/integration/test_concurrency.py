"""Many clients at once, against the real database (both engines; PostgreSQL is the one that matters).

Each request below runs in its own task with its own pooled connection, so the transactions really
interleave in the database; the assertions hold only if the locking is right."""

from __future__ import annotations

import asyncio

import pytest

from registry import audit
from registry.roles import Role
from registry.tables import AuditEvent, Posting
from tests.integration.factory import Book

pytestmark = pytest.mark.integration


async def test_concurrent_repayments_never_overdraw_a_component(client, as_role) -> None:
    book = Book(client, as_role)
    await book.party("P1")
    await book.loan("L1", "P1", principal="1000.00")
    headers = as_role(Role.CREDIT_OFFICER)

    async def repay() -> int:
        r = await client.post(
            "/api/loans/L1/postings",
            headers=headers,
            json={"kind": "repayment", "value_date": "2026-03-01", "principal": "100.00"},
        )
        return r.status_code

    codes = await asyncio.gather(*(repay() for _ in range(16)))
    assert sorted(codes) == [201] * 10 + [422] * 6
    loan = (await client.get("/api/loans/L1", headers=headers)).json()
    assert loan["balance"]["principal"] == "0.00"
    assert await Posting.count() == 11


async def test_concurrent_writers_keep_one_unbroken_audit_chain(client, as_role) -> None:
    headers = as_role(Role.ASSET_MANAGER)

    async def create(i: int) -> int:
        r = await client.post(
            "/api/parties", headers=headers, json={"ref": f"P{i:03d}", "name": f"Party {i}", "kind": "company"}
        )
        return r.status_code

    codes = await asyncio.gather(*(create(i) for i in range(40)))
    assert codes == [201] * 40
    report = await audit.verify()
    assert report.ok
    assert report.events == 40
    seqs = [row["seq"] for row in await AuditEvent.select(AuditEvent.seq).order_by(AuditEvent.seq)]
    assert seqs == list(range(1, 41))


async def test_racing_creates_of_one_ref_give_one_201_and_409s(client, as_role) -> None:
    headers = as_role(Role.ASSET_MANAGER)

    async def create() -> int:
        r = await client.post("/api/parties", headers=headers, json={"ref": "SAME", "name": "X", "kind": "company"})
        assert r.status_code != 500, r.text
        return r.status_code

    codes = await asyncio.gather(*(create() for _ in range(12)))
    assert sorted(codes) == [201] + [409] * 11
    assert (await client.get("/api/parties", headers=headers)).json()["total"] == 1
    assert (await audit.verify()).events == 1


async def test_racing_registration_moves_apply_once(client, as_role) -> None:
    book = Book(client, as_role)
    await book.party("P1")
    await book.loan("L1", "P1", principal="10.00")
    await book.asset("A1")
    await book.lien("M1")

    codes = await asyncio.gather(*(book.move("M1", "submitted") for _ in range(8)))
    assert sorted(r.status_code for r in codes) == [200] + [409] * 7
    events = await AuditEvent.count().where(AuditEvent.action == "registration:submitted")
    assert events == 1


async def test_coverage_read_beside_concurrent_repayments_is_never_stale_afterwards(client, as_role) -> None:
    """Coverage readers racing repayments see some whole state of the ledger, and once the writers are done
    the next read sees the last repayment (the result cache is keyed by the audit head, read before the book)."""
    book = Book(client, as_role)
    await book.party("P1")
    await book.loan("L1", "P1", principal="1000.00")
    await book.asset("A1", kind="vehicle")
    await book.lien("M1")
    credit = as_role(Role.CREDIT_OFFICER)

    async def repay() -> int:
        r = await client.post(
            "/api/loans/L1/postings",
            headers=credit,
            json={"kind": "repayment", "value_date": "2026-03-01", "principal": "50.00"},
        )
        return r.status_code

    async def read() -> str:
        r = await client.get("/api/coverage/loans/L1?as_of=2026-06-30", headers=credit)
        assert r.status_code == 200, r.text
        return str(r.json()["loan"]["exposure"])

    results = await asyncio.gather(
        *(task for pair in zip((repay() for _ in range(10)), (read() for _ in range(10)), strict=True) for task in pair)
    )
    assert [code for code in results if isinstance(code, int)] == [201] * 10
    possible = {f"{1000 - 50 * k}.00" for k in range(11)}
    assert {seen for seen in results if isinstance(seen, str)} <= possible
    assert await read() == "500.00"


async def test_many_scenarios_at_once_agree_and_write_nothing(client, as_role) -> None:
    book = Book(client, as_role)
    await book.party("P1")
    for loan in ("L1", "L2"):
        await book.loan(loan, "P1", principal="1000.00")
    await book.asset("A1", kind="vehicle")
    await book.lien("M1", loans=["L1", "L2"])
    headers = as_role(Role.CREDIT_OFFICER)
    events = await AuditEvent.count()
    stress = {"as_of": "2026-06-30", "by_kind": [{"kind": "vehicle", "change_pct": "-40"}]}
    what_if = {"as_of": "2026-06-30", "changes": [{"type": "set_balance", "loan_id": "L2", "principal": "10.00"}]}

    async def run(url: str, body: dict[str, object]) -> object:
        r = await client.post(url, headers=headers, json=body)
        assert r.status_code == 200, r.text
        return r.json()

    answers = await asyncio.gather(
        *(run("/api/coverage/stress", stress) for _ in range(6)),
        *(run("/api/coverage/what-if", what_if) for _ in range(6)),
    )
    assert all(a == answers[0] for a in answers[:6]) and all(a == answers[6] for a in answers[6:])
    assert await AuditEvent.count() == events
