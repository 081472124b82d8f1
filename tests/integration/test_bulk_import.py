"""Bulk import and export of the book through the pipeline, on the engine of this run."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from app import book_files
from registry.bulk.pipeline import ImportRefused, export_book, import_book
from registry.roles import Role
from registry.tables import AuditEvent, Lien, Loan, Party, Posting
from tests.conftest import ENGINE
from tests.integration.books import small
from tests.integration.conftest import empty_tables
from valuation.tables import Policy, Valuation

pytestmark = pytest.mark.integration


async def _import(directory: Path) -> dict:
    return (await import_book(directory, book_files(), "importer")).files


async def test_import_builds_the_book(client, as_role, tmp_path: Path) -> None:
    result = await _import(small.write(tmp_path / "book"))
    assert {n: f["rows"] for n, f in result.items()} == {
        "parties": 3,
        "loans": 4,
        "assets": 3,
        "liens": 5,
        "lien_loans": 5,
        "policies": 3,
        "valuations": 4,
    }
    headers = as_role(Role.CREDIT_OFFICER)
    l1 = (await client.get("/api/loans/L1", headers=headers)).json()
    assert l1["balance"] == {
        "principal": "1000000.00",
        "interest": "1200.50",
        "penalty": "0.00",
        "fees": "0.00",
        "total": "1001200.50",
    }
    assert (await client.get("/api/loans/L4", headers=headers)).json()["balance"]["principal"] == "1000000"
    asset = (await client.get("/api/assets/A1", headers=headers)).json()
    # 09:30 at +08:00 and 01:30Z are the same instant: the two liens share rank 1.
    assert [(x["ref"], x["rank"], x["currency"]) for x in asset["liens"]] == [("M1", 1, "CNY"), ("M2", 1, "CNY")]
    assert asset["liens"][0]["cap"] == "800000.00" and asset["liens"][1]["external_claim"] == "300000.00"
    m3 = (await client.get("/api/liens/M3", headers=headers)).json()
    assert m3["currency"] == "USD" and m3["loan_refs"] == ["L2"]  # a lien's currency is its loans'
    assert (await client.get("/api/parties/P2", headers=headers)).json()["name"] == "Wang, Wei"
    policy = await Policy.select().where(Policy.kind == "vehicle").first()
    assert (policy["haircut"], policy["revaluation_days"], policy["max_ltv"]) == ("0.5", 180, "0.5")
    approved = await Valuation.select().where(Valuation.status == "approved")
    assert sorted(v["market_value"] for v in approved) == [240000000, 250000000]
    assert all(v["decided_by"] == "importer" for v in approved)
    events = await AuditEvent.select().where(AuditEvent.action == "import")
    assert len(events) == 1 and await AuditEvent.count() == 1  # one event for the whole import
    assert '"sha256"' in events[0]["after"] and '"rows":4' in events[0]["after"]


async def test_reimport_is_idempotent_and_a_changed_balance_posts_the_difference(
    client, as_role, tmp_path: Path
) -> None:
    book = small.write(tmp_path / "book")
    await _import(book)
    postings = await Posting.count()
    again = await _import(book)
    assert all(f["written"] == 0 for f in again.values()), again
    assert again["loans"]["balance_postings"] == 0 and await Posting.count() == postings
    changed = dict(small.FILES)
    changed["loans"] = changed["loans"].replace(
        "L1,P1,CNY,1000000.00,1200.50,0,,performing", "L1,P1,CNY,990000.00,0,0,35.00,overdue"
    )
    result = await _import(small.write(tmp_path / "changed", changed))
    assert result["loans"]["written"] == 1 and result["loans"]["balance_postings"] == 1
    l1 = (await client.get("/api/loans/L1", headers=as_role(Role.AUDITOR))).json()
    assert l1["status"] == "overdue"
    assert l1["balance"] == {
        "principal": "990000.00",
        "interest": "0.00",
        "penalty": "0.00",
        "fees": "35.00",
        "total": "990035.00",
    }
    last = await Posting.select().order_by(Posting.id, ascending=False).first()
    assert (last["kind"], last["principal"], last["interest"], last["fees"]) == (
        "import_balance",
        -1000000,
        -120050,
        3500,
    )


async def test_lien_loans_file_replaces_each_named_liens_set(client, as_role, tmp_path: Path) -> None:
    await _import(small.write(tmp_path / "book"))
    await _import(small.write(tmp_path / "pairs", {"lien_loans": "lien_id,loan_id\nM1,L1\n"}))
    headers = as_role(Role.AUDITOR)
    assert (await client.get("/api/liens/M1", headers=headers)).json()["loan_refs"] == ["L1"]
    assert (await client.get("/api/liens/M4", headers=headers)).json()["loan_refs"] == ["L3"]  # not named: kept


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
async def test_export_reimports_into_an_empty_database_to_the_same_book(client, tmp_path: Path, fmt: str) -> None:
    await _import(small.write(tmp_path / "book"))
    first = tmp_path / "first"
    await export_book(first, book_files(), fmt)
    await empty_tables()
    assert await Loan.count() == 0
    await _import(first)
    second = tmp_path / "second"
    await export_book(second, book_files(), fmt)
    read = pl.read_csv if fmt == "csv" else pl.read_parquet
    for name in small.FILES:
        assert read(first / f"{name}.{fmt}").equals(read(second / f"{name}.{fmt}")), name
        if fmt == "csv":
            assert (first / f"{name}.csv").read_bytes() == (second / f"{name}.csv").read_bytes()
    loans = (
        pl.read_csv(first / "loans.csv", infer_schema=False)
        if fmt == "csv"
        else pl.read_parquet(first / "loans.parquet")
    )
    assert loans["loan_id"].to_list() == ["L1", "L2", "L3", "L4"]  # sorted by ref
    assert loans.filter(pl.col("loan_id") == "L2")["principal"].item() == "50000.00"


async def test_typed_parquet_columns_import_like_strings(client, as_role, tmp_path: Path) -> None:
    import datetime as dt
    from decimal import Decimal

    book = small.write(tmp_path / "book", {k: v for k, v in small.FILES.items() if k in ("parties", "assets")})
    policies = pl.DataFrame({"kind": ["real_estate"], "haircut": [0.3], "revaluation_days": [365], "max_ltv": [0.7]})
    policies.write_parquet(book / "policies.parquet")
    pl.DataFrame(
        {
            "asset_id": ["A1"],
            "valued_on": [dt.date(2025, 6, 30)],
            "market_value": pl.Series([Decimal("2500000.50")], dtype=pl.Decimal(18, 2)),
            "currency": ["CNY"],
            "method": ["income"],
            "status": ["approved"],
        }
    ).write_parquet(book / "valuations.parquet")
    pl.DataFrame(
        {
            "lien_id": ["M9"],
            "asset_id": ["A1"],
            "kind": ["mortgage"],
            "holder": ["Other Bank"],
            "status": ["registered"],
            "perfected_at": [dt.datetime(2025, 1, 2, 3, 4, 5)],
            "cap": [None],
            "external_claim": [1000.25],
        }
    ).write_parquet(book / "liens.parquet")
    await _import(book)
    valuation = await Valuation.select().first()
    assert valuation["market_value"] == 250000050 and str(valuation["valued_on"]) == "2025-06-30"
    lien = (await client.get("/api/liens/M9", headers=as_role(Role.AUDITOR))).json()
    assert lien["external_claim"] == "1000.25" and lien["perfected_at"].startswith("2025-01-02T03:04:05")
    assert (await Policy.select().first())["haircut"] == "0.3"


async def test_partial_import_resolves_refs_already_in_the_database(client, tmp_path: Path) -> None:
    await _import(small.write(tmp_path / "book"))
    result = await _import(
        small.write(
            tmp_path / "more",
            {
                "loans": (
                    "loan_id,borrower_id,currency,principal,interest,penalty,fees,status\n"
                    "L9,P3,CNY,10.00,0,0,0,overdue\n"
                ),
                "lien_loans": "lien_id,loan_id\nM4,L3\nM4,L9\n",
            },
        )
    )
    assert result["loans"]["written"] == 1 and result["lien_loans"]["written"] == 1
    assert await Loan.count() == 5


async def test_a_bad_book_is_refused_whole_with_every_error_listed(client, tmp_path: Path) -> None:
    bad = dict(small.FILES)
    bad["loans"] = """loan_id,borrower_id,currency,principal,interest,penalty,fees,status
L1,P1,CNY,1000000.001,0,0,0,performing
L2,P9,XXX,-5,0,0,0,overdue
L2,P2,USD,5,0,0,0,zombie
"""
    bad["liens"] = bad["liens"].replace(
        "M2,A1,mortgage,Bank of Ningbo,registered,2025-07-01T01:30:00Z,,300000.00",
        "M2,A9,mortgage,Bank of Ningbo,registered,,,",
    )
    bad["lien_loans"] = bad["lien_loans"] + "M2,L1\nM1,L1\n"
    bad["policies"] = "kind,haircut,revaluation_days\nreal_estate,0.3,365\n"
    with pytest.raises(ImportRefused) as refused:
        await _import(small.write(tmp_path / "bad", bad))
    found = {(f, r, c) for f, r, c, _ in refused.value.errors.iter_rows()}
    assert found == {
        ("policies", 0, "max_ltv"),
        ("loans", 1, "principal"),
        ("loans", 2, "borrower_id"),
        ("loans", 2, "currency"),
        ("loans", 2, "principal"),
        ("loans", 3, "loan_id"),
        ("loans", 3, "status"),
        ("liens", 2, "asset_id"),
        ("liens", 2, "perfected_at"),
        ("liens", 2, "external_claim"),
        ("lien_loans", 6, "lien_id"),
        ("lien_loans", 7, "loan_id"),
        # L3 is neither in this loans file nor in the database.
        ("lien_loans", 2, "loan_id"),
        ("lien_loans", 4, "loan_id"),
        ("lien_loans", 5, "loan_id"),
    }
    reasons = dict(((f, r, c), why) for f, r, c, why in refused.value.errors.iter_rows())
    assert reasons[("loans", 2, "borrower_id")] == "no parties row with ref P9"
    assert "only own liens" in reasons[("lien_loans", 6, "lien_id")]
    assert await Party.count() == 0 and await AuditEvent.count() == 0 and await Policy.count() == 0


async def test_an_import_that_fails_while_writing_leaves_the_database_as_it_was(
    client, tmp_path: Path, monkeypatch
) -> None:
    from registry.bulk.lien_loans import LienLoansFile

    await _import(small.write(tmp_path / "book"))
    before = (
        await Party.count(),
        await Loan.count(),
        await Posting.count(),
        await Lien.count(),
        await AuditEvent.count(),
    )
    changed = {
        k: v.replace("Acme Trading Co.", "Renamed Ltd").replace("1000000.00,1200.50", "5.00,1200.50")
        for k, v in small.FILES.items()
    }
    changed["parties"] += "P4,New Party,company\n"

    async def crash(*_args, **_kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(LienLoansFile, "upsert", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        await _import(small.write(tmp_path / "changed", changed))
    after = (
        await Party.count(),
        await Loan.count(),
        await Posting.count(),
        await Lien.count(),
        await AuditEvent.count(),
    )
    assert after == before
    assert (await Party.select(Party.name).where(Party.ref == "P1").first())["name"] == "Acme Trading Co."


def test_refusal_lists_the_first_thousand_and_counts_the_rest() -> None:
    errors = pl.DataFrame(
        {"file": ["loans"] * 1500, "row": list(range(1, 1501)), "column": ["status"] * 1500, "reason": ["bad"] * 1500}
    )
    lines = ImportRefused(errors).lines()
    assert len(lines) == 1001 and lines[0] == "loans: row 1, column status: bad"
    assert lines[-1] == "... and 500 more errors"


def _multipart(files: dict[str, str]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (f"{name}.csv", text.encode(), "text/csv")) for name, text in files.items()]


async def test_admin_uploads_the_book_over_http(client, as_role) -> None:
    r = await client.post("/api/imports", files=_multipart(small.FILES), headers=as_role(Role.ADMIN))
    assert r.status_code == 201, r.text
    assert r.json()["files"]["loans"]["rows"] == 4 and r.json()["files"]["loans"]["written"] == 4
    assert await Loan.count() == 4
    audit = (await client.get("/api/audit?entity=book", headers=as_role(Role.AUDITOR))).json()
    assert audit["total"] == 1 and audit["items"][0]["actor"] == "admin1"


async def test_http_upload_refusal_is_422_with_the_rows(client, as_role) -> None:
    bad = {"parties": "party_id,name,kind\nP1,A,company\nP1,B,trust\n"}
    r = await client.post("/api/imports", files=_multipart(bad), headers=as_role(Role.ADMIN))
    assert r.status_code == 422
    problem = r.json()
    assert problem["error_count"] == 2
    assert {(e["row"], e["column"]) for e in problem["errors"]} == {(2, "party_id"), (2, "kind")}
    assert await Party.count() == 0
    r = await client.post(
        "/api/imports",
        files=[("files", ("customers.xlsx", b"x", "application/octet-stream"))],
        headers=as_role(Role.ADMIN),
    )
    assert r.status_code == 422 and "customers.xlsx" in r.text


async def test_a_lien_over_loans_in_two_currencies_is_refused(client, tmp_path: Path) -> None:
    mixed = dict(small.FILES)
    mixed["lien_loans"] = small.FILES["lien_loans"] + "M1,L2\n"  # L1 and L3 are CNY, L2 is USD
    with pytest.raises(ImportRefused) as refused:
        await _import(small.write(tmp_path / "mixed", mixed))
    assert [(f, r, c, why) for f, r, c, why in refused.value.errors.iter_rows()] == [
        ("liens", 1, "lien_id", "secures loans in several currencies (CNY, USD)")
    ]


async def test_export_escapes_text_that_would_run_as_a_formula(client, tmp_path: Path) -> None:
    files = dict(small.FILES)
    files["parties"] = small.FILES["parties"] + "P4,\"=cmd|' /C calc'!A0\",company\nP5,@SUM(A1),individual\n"
    files["assets"] = small.FILES["assets"] + "A4,equipment,P4,-1+2\nA5,equipment,P5,-12.50\n"
    await _import(small.write(tmp_path / "book", files))
    out = tmp_path / "out"
    await export_book(out, book_files(), "csv")
    parties = pl.read_csv(out / "parties.csv", infer_schema=False)
    names = dict(zip(parties["party_id"], parties["name"], strict=True))
    assert names["P4"] == "'=cmd|' /C calc'!A0"
    assert names["P5"] == "'@SUM(A1)"
    assert names["P2"] == "Wang, Wei"
    assets = pl.read_csv(out / "assets.csv", infer_schema=False)
    descriptions = dict(zip(assets["asset_id"], assets["description"], strict=True))
    assert descriptions["A4"] == "'-1+2"
    assert descriptions["A5"] == "-12.50"  # a plain number is never altered
    loans = pl.read_csv(out / "loans.csv", infer_schema=False)
    assert loans.filter(pl.col("loan_id") == "L1")["principal"].item() == "1000000.00"


async def test_liens_file_may_carry_the_currency_of_the_cap_or_claim(client, as_role, tmp_path: Path) -> None:
    files = dict(small.FILES)
    files["liens"] = """lien_id,asset_id,kind,holder,status,perfected_at,cap,external_claim,currency
M1,A1,max_amount_mortgage,own,registered,2025-07-01T09:30:00+08:00,800000.00,,CNY
M2,A1,mortgage,Bank of Ningbo,registered,2025-07-01T01:30:00Z,,300000.00,USD
M3,A2,pledge,own,draft,,,,
M4,A3,mortgage,own,registered,2025-02-01 10:00:00,,,
M5,A3,mortgage,own,released,2020-02-01T10:00:00Z,,,
"""
    await _import(small.write(tmp_path / "book", files))
    headers = as_role(Role.AUDITOR)
    m2 = (await client.get("/api/liens/M2", headers=headers)).json()
    assert (m2["currency"], m2["external_claim"]) == ("USD", "300000.00")
    assert (await client.get("/api/liens/M4", headers=headers)).json()["currency"] == "CNY"  # from its loans
    out = tmp_path / "out"
    await export_book(out, book_files(), "csv")
    exported = pl.read_csv(out / "liens.csv", infer_schema=False)
    assert dict(zip(exported["lien_id"], exported["currency"], strict=True))["M2"] == "USD"
    await empty_tables()
    await _import(out)
    assert (await client.get("/api/liens/M2", headers=headers)).json()["currency"] == "USD"
    # Without the column, a lien already in the database keeps its currency.
    await _import(small.write(tmp_path / "again"))
    assert (await client.get("/api/liens/M2", headers=headers)).json()["currency"] == "USD"

    wrong = dict(files)
    wrong["liens"] = files["liens"].replace("800000.00,,CNY", "800000.00,,USD")
    with pytest.raises(ImportRefused) as refused:
        await _import(small.write(tmp_path / "wrong", wrong))
    assert [(f, r, col, why) for f, r, col, why in refused.value.errors.iter_rows()] == [
        ("liens", 1, "currency", "USD differs from the currency of the loans it secures (CNY)")
    ]


@pytest.mark.skipif(ENGINE != "postgres", reason="planner statistics are PostgreSQL's")
async def test_import_leaves_fresh_planner_statistics_on_postgresql(client, tmp_path: Path) -> None:
    sql = "SELECT relname, last_analyze FROM pg_stat_user_tables WHERE relname IN ('loan', 'party', 'lien')"
    before = {r["relname"]: r["last_analyze"] for r in await Loan.raw(sql)}
    await _import(small.write(tmp_path / "book"))
    after = {r["relname"]: r["last_analyze"] for r in await Loan.raw(sql)}
    for table in ("loan", "party", "lien"):
        assert after[table] is not None, table
        assert before.get(table) is None or after[table] > before[table], table
