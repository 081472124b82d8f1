"""A lot's book as the waterfall sees it: its assets, the liens counted on them with their ranks, and the
secured loans with their balances now. One read per table, shared by the preview, the case page and the
settlement (so the three can never disagree on who is paid)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from auctions.rules.waterfall import OWN, LienClaim, LotAsset
from registry.errors import InvalidInputError
from registry.ranking import RankInput, rank_liens
from registry.registration import RegistrationStatus
from registry.tables import Asset, Lien, LienLoan, Loan

LEDGER_COMPONENTS = ("principal", "interest", "penalty", "fees")
# Ids are integers read from the database, so formatting them into the statement cannot inject anything.
_LINKS_SQL = """
SELECT ll.lien AS lien, l.ref AS loan_ref FROM lien_loan ll JOIN loan l ON l.id = ll.loan
WHERE ll.lien IN ({lien_ids})
"""
_LOANS_SQL = """
SELECT l.id AS id, l.ref AS ref, l.currency AS currency, b.ref AS borrower_ref,
       COALESCE(SUM(p.principal), 0) AS principal, COALESCE(SUM(p.interest), 0) AS interest,
       COALESCE(SUM(p.penalty), 0) AS penalty, COALESCE(SUM(p.fees), 0) AS fees
FROM loan l JOIN party b ON b.id = l.borrower LEFT JOIN posting p ON p.loan = l.id
WHERE l.id IN (SELECT ll.loan FROM lien_loan ll WHERE ll.lien IN ({lien_ids}))
GROUP BY l.id, l.ref, l.currency, b.ref
"""
# DESIGN 7 step 2: every lien still alive counts in a disposal, registered or not (unregistered ones rank last).
COUNTED = (RegistrationStatus.REGISTERED.value, RegistrationStatus.SUBMITTED.value)


@dataclass(frozen=True, slots=True)
class LotAssetRow:
    id: int
    ref: str
    kind: str
    owner_id: int
    owner_ref: str
    description: str
    status: str


@dataclass(frozen=True, slots=True)
class LotLien:
    id: int
    ref: str
    asset_id: int
    holder: str
    status: str
    currency: str
    rank: int
    cap: int | None
    external_claim: int | None
    loan_refs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LotLoan:
    id: int
    ref: str
    borrower_ref: str
    currency: str
    balance: dict[str, int]

    @property
    def outstanding(self) -> int:
        return sum(self.balance.values())


@dataclass(slots=True)
class LotBook:
    assets: list[LotAssetRow]
    liens: list[LotLien]
    loans: dict[str, LotLoan] = field(default_factory=dict)

    def currencies(self) -> set[str]:
        return {lien.currency for lien in self.liens} | {loan.currency for loan in self.loans.values()}

    def check_currency(self, currency: str, field_name: str = "asset_refs") -> None:
        """Proceeds in one currency pay claims in that currency only; a conversion is not ours to choose."""
        others = sorted(self.currencies() - {currency})
        if others:
            raise InvalidInputError.one(
                field_name,
                f"the lot's proceeds are in {currency} but its liens or secured loans are in {', '.join(others)}",
            )

    def waterfall_assets(self, appraisals: dict[int, int]) -> list[LotAsset]:
        by_asset: dict[int, list[LienClaim]] = defaultdict(list)
        for lien in self.liens:
            by_asset[lien.asset_id].append(
                LienClaim(lien.ref, lien.holder, lien.rank, lien.cap, lien.external_claim, lien.loan_refs)
            )
        return [LotAsset(a.ref, appraisals.get(a.id, 0), tuple(by_asset[a.id])) for a in self.assets]

    def balances(self) -> dict[str, dict[str, int]]:
        return {ref: dict(loan.balance) for ref, loan in self.loans.items()}

    def own_lien_ids(self) -> list[int]:
        return [lien.id for lien in self.liens if lien.holder == OWN]


async def read_lot(asset_ids: Sequence[int]) -> LotBook:
    asset_rows = (
        await Asset.select(
            Asset.id,
            Asset.ref,
            Asset.kind,
            Asset.owner,
            Asset.owner.ref.as_alias("owner_ref"),
            Asset.description,
            Asset.status,
        )
        .where(Asset.id.is_in(list(asset_ids)))
        .order_by(Asset.ref)
    )
    assets = [
        LotAssetRow(r["id"], r["ref"], r["kind"], r["owner"], r["owner_ref"], r["description"], r["status"])
        for r in asset_rows
    ]
    lien_rows = await Lien.select().where(Lien.asset.is_in(list(asset_ids)) & Lien.status.is_in(list(COUNTED)))
    lien_ids = ", ".join(str(int(r["id"])) for r in lien_rows)
    # One pass over the lot's loans with their balances summed by the database: a lot can secure thousands.
    loan_links = await LienLoan.raw(_LINKS_SQL.format(lien_ids=lien_ids)) if lien_rows else []
    loans_of: dict[int, list[str]] = defaultdict(list)
    for link in loan_links:
        loans_of[link["lien"]].append(link["loan_ref"])
    ranks: dict[str, int | None] = {}
    for asset_id in {r["asset"] for r in lien_rows}:
        ranks.update(
            rank_liens(
                RankInput(r["ref"], RegistrationStatus(r["status"]), r["perfected_at"])
                for r in lien_rows
                if r["asset"] == asset_id
            )
        )
    liens = [
        LotLien(
            id=r["id"],
            ref=r["ref"],
            asset_id=r["asset"],
            holder=r["holder"],
            status=r["status"],
            currency=r["currency"],
            rank=ranks[r["ref"]] or 0,
            cap=r["cap"],
            external_claim=r["external_claim"],
            loan_refs=tuple(sorted(loans_of[r["id"]])) if r["holder"] == OWN else (),
        )
        for r in sorted(lien_rows, key=lambda r: r["ref"])
    ]
    book = LotBook(assets, liens)
    if lien_rows:
        rows = await Loan.raw(_LOANS_SQL.format(lien_ids=lien_ids))
        book.loans = {
            r["ref"]: LotLoan(
                r["id"], r["ref"], r["borrower_ref"], r["currency"], {c: int(r[c]) for c in LEDGER_COMPONENTS}
            )
            for r in rows
        }
    return book
