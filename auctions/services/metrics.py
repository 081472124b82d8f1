"""Recovery metrics from the cases: one read of the figures per case, the computation in rules/metrics.py."""

from __future__ import annotations

import csv
import io
from collections import defaultdict

from auctions.rules.metrics import CaseFigures, Grouping, metrics
from auctions.schemas.metrics import MetricsRead, MetricsRow
from auctions.tables import AuctionRound, CaseAsset, DisposalCase, SettlementLine
from registry.downloads import csv_safe_row
from registry.money import format_amount


async def case_figures() -> list[CaseFigures]:
    cases = await DisposalCase.select()
    lots = await CaseAsset.select(CaseAsset.case, CaseAsset.appraisal, CaseAsset.asset.kind.as_alias("kind"))
    kind_of: dict[int, tuple[int, str]] = {}
    for r in sorted(lots, key=lambda r: r["kind"]):
        best = kind_of.get(r["case"])
        if best is None or r["appraisal"] > best[0]:
            kind_of[r["case"]] = (r["appraisal"], r["kind"])
    held: dict[int, int] = defaultdict(int)
    failed: dict[int, int] = defaultdict(int)
    for r in await AuctionRound.select(AuctionRound.case, AuctionRound.status):
        if r["status"] in ("sold", "failed", "defaulted"):
            held[r["case"]] += 1
        if r["status"] in ("failed", "defaulted"):
            failed[r["case"]] += 1
    paid: dict[int, int] = defaultdict(int)
    for r in await SettlementLine.select(SettlementLine.settlement.case.as_alias("case"), SettlementLine.amount).where(
        (SettlementLine.kind == "allocation")
        & (SettlementLine.holder == "own")
        & (SettlementLine.settlement.status == "confirmed")
    ):
        paid[r["case"]] += r["amount"]
    return [
        CaseFigures(
            case_ref=c["ref"],
            currency=c["currency"],
            profile=c["profile"],
            asset_kind=kind_of.get(c["id"], (0, "unknown"))[1],
            opened_on=c["opened_at"].date(),
            settled_on=c["settled_at"].date() if c["settled_at"] else None,
            appraisal=c["appraisal"],
            exposure_at_open=c["exposure_at_open"],
            sale_price=c["sale_price"],
            paid_to_own_loans=paid[c["id"]],
            rounds_held=held[c["id"]],
            failed_rounds=failed[c["id"]],
            forfeited_deposits=c["forfeited_deposits"],
        )
        for c in cases
    ]


async def recovery_metrics(by: Grouping) -> MetricsRead:
    rows = metrics(await case_figures(), by)
    return MetricsRead(
        by=by,
        rows=[
            MetricsRow(
                **{
                    **r,
                    **{
                        k: format_amount(r[k], r["currency"])
                        for k in ("paid_to_own_loans", "exposure_settled", "forfeited_deposits")
                    },
                }
            )
            for r in rows
        ],
    )


def to_csv(result: MetricsRead) -> str:
    out = io.StringIO()
    fields = list(MetricsRow.__struct_fields__)
    writer = csv.writer(out)
    writer.writerow(["by", *fields])
    for row in result.rows:
        writer.writerow(csv_safe_row([result.by, *(getattr(row, f) for f in fields)]))
    return out.getvalue()
