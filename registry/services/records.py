"""What the record pages read beyond one row: a borrower's group exposure per currency and the assets pledged
for a borrower's loans. Amounts are summed in integer minor units and formatted once, per currency."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import msgspec

from registry.ledger_rules import BALANCE_COMPONENTS
from registry.schemas.loans import Balance
from registry.services.ledger import balance_of
from registry.tables import LienLoan, Posting

# Loans that no longer carry exposure (DESIGN 5 step 1): their balances stay on the ledger, out of the group's.
CLOSED_LOAN_STATUSES = ("settled", "written_off")
# A borrower with more pledges than this is shown the first ones, in asset ref order, and told so.
MAX_PLEDGED_ASSETS = 500


class GroupExposure(msgspec.Struct):
    currency: str
    loans: int
    balance: Balance


async def group_exposure(party_id: int) -> list[GroupExposure]:
    """Per currency, the borrower's live loans and the sum of their balances by component. Currencies are never
    added together: a group with CNY and USD loans has two lines."""
    sums = ", ".join(f"CAST(COALESCE(SUM(p.{c}), 0) AS BIGINT) AS {c}" for c in BALANCE_COMPONENTS)
    # Fixed column names only; the party id and statuses travel as parameters.
    sql = (
        f"SELECT l.currency AS currency, COUNT(DISTINCT l.id) AS loans, {sums} "  # noqa: S608
        "FROM loan l LEFT JOIN posting p ON p.loan = l.id "
        "WHERE l.borrower = {} AND l.status NOT IN ({}, {}) GROUP BY l.currency ORDER BY l.currency"
    )
    rows = await Posting.raw(sql, party_id, *CLOSED_LOAN_STATUSES)
    return [
        GroupExposure(
            currency=r["currency"],
            loans=int(r["loans"]),
            balance=balance_of({c: int(r[c]) for c in BALANCE_COMPONENTS}, r["currency"]),
        )
        for r in rows
    ]


@dataclass
class PledgedAsset:
    """An asset under a lien that secures one or more of the borrower's loans."""

    ref: str
    kind: str
    status: str
    owner_ref: str
    owner_name: str
    liens: list[tuple[str, str]] = field(default_factory=list)  # (lien ref, registration status)
    loan_refs: list[str] = field(default_factory=list)


async def pledged_assets(party_id: int) -> tuple[list[PledgedAsset], bool]:
    """The assets pledged for the borrower's loans (whoever owns them), in ref order, with the liens and loans
    that tie them to the borrower; and whether the list was cut at MAX_PLEDGED_ASSETS."""
    rows = await LienLoan.raw(
        "SELECT li.ref AS lien_ref, li.status AS lien_status, a.ref AS asset_ref, a.kind AS asset_kind, "
        "a.status AS asset_status, o.ref AS owner_ref, o.name AS owner_name, lo.ref AS loan_ref "
        "FROM lien_loan ll JOIN loan lo ON lo.id = ll.loan JOIN lien li ON li.id = ll.lien "
        "JOIN asset a ON a.id = li.asset JOIN party o ON o.id = a.owner "
        "WHERE lo.borrower = {} ORDER BY a.ref, li.ref, lo.ref",
        party_id,
    )
    assets: dict[str, PledgedAsset] = {}
    seen: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        asset = assets.get(r["asset_ref"])
        if asset is None:
            if len(assets) == MAX_PLEDGED_ASSETS:
                return list(assets.values()), True
            asset = assets[r["asset_ref"]] = PledgedAsset(
                r["asset_ref"], r["asset_kind"], r["asset_status"], r["owner_ref"], r["owner_name"]
            )
        if r["lien_ref"] not in seen[asset.ref]:
            seen[asset.ref].add(r["lien_ref"])
            asset.liens.append((r["lien_ref"], r["lien_status"]))
        if r["loan_ref"] not in asset.loan_refs:
            asset.loan_refs.append(r["loan_ref"])
    for asset in assets.values():
        asset.loan_refs.sort()
    return list(assets.values()), False
