"""Seeds a database (DATABASE_URL) with one auction bidding now, for tests and benchmarks that run real servers:
`python -m tests.live_seed [EXTRA_BIDDERS [HOURS]]`. Prints the round id. Users: officer, officer2 (disposal
officers), alice and bob and the extra bidder000, bidder001 … (bidders, admitted), each with the password
`<name>-password`."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import msgspec

PASSWORD = "{}-password"


def body(schema: type[Any], **fields: Any) -> Any:
    return msgspec.convert(fields, schema)


async def seed(extra_bidders: int = 0, hours: float = 2.0) -> int:
    from auctions.schemas.bids import BidderRegister
    from auctions.schemas.cases import CaseOpen, RoundCreate
    from auctions.services import bidders, cases, rounds
    from registry import clock
    from registry.cli import migrate_database
    from registry.roles import Role
    from registry.schemas.assets import AssetCreate
    from registry.schemas.liens import LienCreate, RegistrationMove
    from registry.schemas.loans import LoanCreate, PostingCreate
    from registry.schemas.parties import PartyCreate
    from registry.services import assets, liens, loans, parties, users
    from valuation.schemas import PolicyWrite, ValuationSubmit
    from valuation.services import policies, valuations

    await migrate_database()
    for name, role in (
        ("admin", Role.ADMIN),
        ("manager", Role.ASSET_MANAGER),
        ("credit", Role.CREDIT_OFFICER),
        ("officer", Role.DISPOSAL_OFFICER),
        ("officer2", Role.DISPOSAL_OFFICER),
        ("alice", Role.BIDDER),
        ("bob", Role.BIDDER),
        *((f"bidder{i:03d}", Role.BIDDER) for i in range(extra_bidders)),
    ):
        await users.create_user(name, PASSWORD.format(name), role, "seed")
    today = clock.today()
    await policies.put_policy("vehicle", PolicyWrite(haircut="0.50", revaluation_days=180, max_ltv="0.50"), "admin")
    await parties.create_party(
        body(PartyCreate, ref="P1", name="Owner Ltd", kind="company"), "manager", Role.ASSET_MANAGER
    )
    await loans.create_loan(body(LoanCreate, ref="L1", borrower_ref="P1", currency="CNY"), "credit")
    await loans.add_posting(
        "L1", body(PostingCreate, kind="disbursement", value_date=str(today), principal="500000.00"), "credit"
    )
    await assets.create_asset(body(AssetCreate, ref="V1", kind="vehicle", owner_ref="P1"), "manager")
    valued = await valuations.submit(
        body(
            ValuationSubmit,
            asset_ref="V1",
            valued_on=str(today),
            market_value="600000.00",
            currency="CNY",
            method="market_comparison",
            appraiser="Seed Appraisal",
        ),
        "manager",
    )
    await valuations.approve(valued.id, "admin")
    await liens.create_lien(
        body(LienCreate, ref="M1", asset_ref="V1", kind="pledge", currency="CNY", loan_refs=["L1"]), "manager"
    )
    await liens.move_registration("M1", body(RegistrationMove, to="submitted"), "manager")
    await liens.move_registration("M1", body(RegistrationMove, to="registered", registration_number="R-1"), "manager")
    await cases.open_case(body(CaseOpen, ref="C1", asset_refs=["V1"], profile="cn-commercial"), "officer")
    now = clock.now()
    created = await rounds.schedule_round(
        "C1",
        RoundCreate(
            starting_price="100000.00",
            increment="1000.00",
            deposit="10000.00",
            notice_published_on=today - timedelta(days=8),
            starts_at=now - timedelta(minutes=1),
            ends_at=now + timedelta(hours=hours),
        ),
        "officer",
    )
    for name in ("alice", "bob", *(f"bidder{i:03d}" for i in range(extra_bidders))):
        await bidders.register_bidder(
            created.round_id, BidderRegister(username=name, deposit_paid="10000.00"), "officer"
        )
    return created.round_id


if __name__ == "__main__":
    import sys

    print(asyncio.run(seed(*(float(a) if "." in a else int(a) for a in sys.argv[1:]))))
