"""Coverage from both sources (the database and a folder of book files), the HTTP API and the CLI, on the
small hand-made book (tests/integration/books/small.py), as of 2025-12-31.

The small book by DESIGN section 5 (amounts in cents; L4 is settled, so it leaves the report):
  exposure L1 = 1,000,000.00 + 1,200.50 = 100,120,050; L2 = 50,000 + 0.50 + 1.25 + 0.10 = 5,000,185 (USD);
           L3 = 25,000,000.
  A1: latest approved valuation on or before as_of is 2025-06-30, 2,500,000.00, x (1 - 0.30) = 175,000,000.
      M1 (own, cap 800,000.00, loans L1 and L3) and M2 (Bank of Ningbo, 300,000.00) are registered at the same
      instant (09:30+08:00 = 01:30Z): one rank. claim(M1) = min(80,000,000, 100,120,050 + 25,000,000)
      = 80,000,000; claim(M2) = 30,000,000; the rank takes min(175,000,000, 110,000,000): both in full.
      M1's 80,000,000 split pro rata to exposure: L1 80,000,000 x 100,120,050 / 125,120,050 = 64,015,351.656,
      L3 = 15,984,648.344; floors leave one cent, which goes to the larger remainder (L1):
      L1 640,153.52, L3 159,846.48.
  A2: only a submitted valuation, and M3 (own, L2) is a draft, which never counts: L2 has no collateral
      (coverage_ratio 0, ltv null, breach) and is unperfected (an own lien neither registered nor released).
  A3: its valuation was rejected, so value 0 and no_valuation; M4 (own, registered, L3) counts and gives 0, so
      L3 is flagged no_valuation. M5 is released: it never counts.
  L1: coverage_ratio = 640,153.52 / 1,001,200.50 = 0.6393859... -> 0.639386; ltv = 1.5640006... -> 1.564001;
      max_ltv = real estate's 0.70; ltv > max_ltv: breach. L3: 159,846.48 / 250,000 = 0.63938592 -> 0.639386,
      ltv = 1.5640006586 -> 1.564001, breach.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import anyio.to_thread
import polars as pl
import pytest

from app import book_files
from registry.bulk.pipeline import export_book, import_book
from registry.roles import Role
from tests.conftest import ENGINE
from tests.integration.books import small
from valuation.coverage import CoverageParams, compute_coverage
from valuation.coverage_sources import (
    EXPORT_COLUMNS,
    book_from_database,
    book_from_directory,
    coverage_export_frame,
)

pytestmark = pytest.mark.integration

AS_OF = date(2025, 12, 31)
HEADER = (
    "loan_id,borrower_id,currency,exposure,collateral_value,covered,uncovered,coverage_ratio,ltv,max_ltv,"
    "breach,stale_valuation,no_valuation,unperfected,reachable_value"
)
EXPECTED = {
    "L1": {
        "currency": "CNY",
        "exposure": "1001200.50",
        "collateral_value": "640153.52",
        "covered": "640153.52",
        "uncovered": "361046.98",
        "coverage_ratio": "0.639386",
        "ltv": "1.564001",
        "max_ltv": "0.700000",
        "breach": True,
        "stale_valuation": False,
        "no_valuation": False,
        "unperfected": False,
        # One asset worth 800,000.00 after the haircut, all of it taken by the claims: nothing left free.
        "reachable_value": "640153.52",
    },
    "L2": {
        "currency": "USD",
        "exposure": "50001.85",
        "collateral_value": "0.00",
        "covered": "0.00",
        "uncovered": "50001.85",
        "coverage_ratio": "0.000000",
        "ltv": None,
        "max_ltv": None,
        "breach": True,
        "stale_valuation": False,
        "no_valuation": False,
        "unperfected": True,
        "reachable_value": "0.00",
    },
    "L3": {
        "currency": "CNY",
        "exposure": "250000.00",
        "collateral_value": "159846.48",
        "covered": "159846.48",
        "uncovered": "90153.52",
        "coverage_ratio": "0.639386",
        "ltv": "1.564001",
        "max_ltv": "0.700000",
        "breach": True,
        "stale_valuation": False,
        "no_valuation": True,
        "unperfected": False,
        "reachable_value": "159846.48",
    },
}


async def _import_small(tmp_path: Path, files: dict[str, str] | None = None) -> None:
    await import_book(small.write(tmp_path / "book", files), book_files(), "importer")


def _export(book_source: object, include_unperfected: bool = False) -> pl.DataFrame:
    params = CoverageParams(as_of=AS_OF, include_unperfected=include_unperfected)
    return coverage_export_frame(compute_coverage(book_source, params).per_loan)  # type: ignore[arg-type]


async def test_database_and_folder_give_identical_exports(client, tmp_path: Path) -> None:
    await _import_small(tmp_path)
    await export_book(tmp_path / "exported", book_files(), "csv")
    from_db = await anyio.to_thread.run_sync(book_from_database)
    from_dir = book_from_directory(tmp_path / "exported")
    for include in (False, True):
        db_frame, dir_frame = _export(from_db, include), _export(from_dir, include)
        assert db_frame.columns == list(EXPORT_COLUMNS)
        assert db_frame.equals(dir_frame), (db_frame, dir_frame)
    # The same from Parquet files.
    await export_book(tmp_path / "parquet", book_files(), "parquet")
    assert _export(from_db).equals(_export(book_from_directory(tmp_path / "parquet")))
    rows = {r.pop("loan_id"): r for r in _export(from_db).to_dicts()}
    assert set(rows) == {"L1", "L2", "L3"}  # L4 is settled
    for loan, expected in EXPECTED.items():
        assert {k: rows[loan][k] for k in expected} == expected, loan


async def test_api_pages_downloads_explains_and_sums(client, as_role, tmp_path: Path) -> None:
    await _import_small(tmp_path)
    headers = as_role(Role.CREDIT_OFFICER)

    page = await client.get(f"/api/coverage/loans?as_of={AS_OF}&page=1&page_size=2", headers=headers)
    assert page.status_code == 200, page.text
    body = page.json()
    assert (body["total"], body["page"], body["page_size"]) == (3, 1, 2)
    assert [r["loan_id"] for r in body["items"]] == ["L1", "L2"]
    assert list(body["items"][0]) == list(EXPORT_COLUMNS)
    assert {k: body["items"][0][k] for k in EXPECTED["L1"]} == EXPECTED["L1"]
    second = (await client.get(f"/api/coverage/loans?as_of={AS_OF}&page=2&page_size=2", headers=headers)).json()
    assert [r["loan_id"] for r in second["items"]] == ["L3"]

    csv = await client.get(f"/api/coverage/loans?as_of={AS_OF}&format=csv", headers=as_role(Role.AUDITOR))
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    lines = csv.text.splitlines()
    assert lines[0] == HEADER
    assert lines[1] == (
        "L1,P1,CNY,1001200.50,640153.52,640153.52,361046.98,0.639386,1.564001,0.700000,true,false,false,false,640153.52"
    )
    assert len(lines) == 4
    parquet = await client.get(f"/api/coverage/loans?as_of={AS_OF}&format=parquet", headers=headers)
    assert parquet.status_code == 200
    from_csv = pl.read_csv(io.StringIO(csv.text), infer_schema=False).with_columns(
        pl.col(c) == "true" for c in ("breach", "stale_valuation", "no_valuation", "unperfected")
    )
    assert pl.read_parquet(io.BytesIO(parquet.content)).equals(from_csv)

    detail = await client.get(f"/api/coverage/loans/L3?as_of={AS_OF}", headers=headers)
    assert detail.status_code == 200, detail.text
    explained = detail.json()
    assert explained["loan"]["collateral_value"] == "159846.48"
    assert explained["ltv_bucket"] == ">100%"
    parts = [
        (
            c["asset_id"],
            c["lien_id"],
            c["rank"],
            c["asset_value_after_haircut"],
            c["lien_claim"],
            c["lien_share"],
            c["loan_share"],
            c["no_valuation"],
        )
        for c in explained["contributions"]
    ]
    assert parts == [
        ("A1", "M1", 1, "1750000.00", "800000.00", "800000.00", "159846.48", False),
        ("A3", "M4", 1, "0.00", "250000.00", "0.00", "0.00", True),
    ]

    summary = await client.get(f"/api/coverage/summary?as_of={AS_OF}", headers=headers)
    assert summary.status_code == 200, summary.text
    totals = {t["currency"]: t for t in summary.json()["portfolio"]}
    # CNY: L1 + L3. exposure 1,001,200.50 + 250,000.00; collateral 640,153.52 + 159,846.48 = M1's 800,000.00.
    assert {
        k: totals["CNY"][k]
        for k in ("loans", "exposure", "collateral_value", "covered", "uncovered", "breaches", "loans_no_valuation")
    } == {
        "loans": 2,
        "exposure": "1251200.50",
        "collateral_value": "800000.00",
        "covered": "800000.00",
        "uncovered": "451200.50",
        "breaches": 2,
        "loans_no_valuation": 1,
    }
    assert totals["CNY"]["coverage_ratio"] == "0.639386"  # 800,000 / 1,251,200.50 = 0.63938592...
    assert totals["USD"]["loans_unperfected"] == 1 and totals["USD"]["coverage_ratio"] == "0.000000"
    buckets = {(b["currency"], b["ltv_bucket"]): b["loans"] for b in summary.json()["ltv_buckets"]}
    assert buckets[("CNY", ">100%")] == 2 and buckets[("USD", "uncovered")] == 1
    assert sum(buckets.values()) == 3 and len(buckets) == 12  # six buckets per currency, empty ones too
    # A1 (real estate) gives L1 and L3 M1's 800,000.00; A3 (equipment) is under M4 but worth nothing.
    assert summary.json()["asset_kinds"] == [
        {"kind": "equipment", "currency": "CNY", "assets": 1, "loans": 1, "collateral_value": "0.00"},
        {"kind": "real_estate", "currency": "CNY", "assets": 1, "loans": 2, "collateral_value": "800000.00"},
    ]


async def test_api_refusals(client, as_role, tmp_path: Path) -> None:
    headers = as_role(Role.ASSET_MANAGER)
    await _import_small(tmp_path)
    assert (await client.get(f"/api/coverage/loans/NOPE?as_of={AS_OF}", headers=headers)).status_code == 404
    # A settled loan has no coverage row either.
    assert (await client.get(f"/api/coverage/loans/L4?as_of={AS_OF}", headers=headers)).status_code == 404
    for url in (
        "/api/coverage/loans?as_of=2025-13-01",
        "/api/coverage/summary?as_of=yesterday",
        "/api/coverage/loans/L1?as_of=2025-02-30",
        "/api/coverage/loans?format=xlsx",
    ):
        r = await client.get(url, headers=headers)
        assert r.status_code == 422, (url, r.status_code, r.text)
    assert (await client.get("/api/coverage/summary", headers=as_role(Role.BIDDER))).status_code == 403

    # An asset valued in USD under a CNY lien needs a USD->CNY rate, which nobody gave.
    files = dict(small.FILES)
    files["valuations"] += "A3,2025-06-01,60000,USD,cost,approved\n"
    await _import_small(tmp_path / "fx", files)
    r = await client.get(f"/api/coverage/loans?as_of={AS_OF}", headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["missing_pairs"] == [{"from": "USD", "to": "CNY"}]
    assert "USD->CNY" in r.json()["detail"]
    # Given the rate, A3 counts: 60,000 USD x (1 - 0.40) x 7.1 = 255,600.00 CNY, M4's claim (L3's 250,000.00) in
    # full, on top of L3's share of M1.
    r = await client.get(f"/api/coverage/loans/L3?as_of={AS_OF}&fx=USD/CNY=7.1", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["loan"]["collateral_value"] == "409846.48"
    for bad, reason in (
        ("USD/CNY=0", "positive"),
        ("USD-CNY=7", "not a rate"),
        ("USD/XXX=1", "unknown currency"),
        ("USD/USD=1", "two different currencies"),
    ):
        r = await client.get(f"/api/coverage/summary?as_of={AS_OF}", params={"fx": bad}, headers=headers)
        assert r.status_code == 422, (bad, r.text)
        assert reason in r.json()["errors"][0]["reason"] and r.json()["errors"][0]["field"] == "fx[0]"


@pytest.mark.skipif(ENGINE != "sqlite", reason="runs its own SQLite database once, in the SQLite pass")
def test_cli_writes_the_export_from_the_database_and_from_a_folder(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "COLLATERAL_DATA_DIR": str(tmp_path / "data"),
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    book = small.write(tmp_path / "book")
    assert run("import", str(book)).returncode == 0
    from_db = run("coverage", "--as-of", str(AS_OF), "--out", str(tmp_path / "db.csv"))
    assert from_db.returncode == 0, from_db.stderr
    from_dir = run("coverage", "--from", str(book), "--as-of", str(AS_OF), "--out", str(tmp_path / "dir.csv"))
    assert from_dir.returncode == 0, from_dir.stderr
    db_text, dir_text = (tmp_path / "db.csv").read_text(), (tmp_path / "dir.csv").read_text()
    assert db_text.splitlines()[0] == HEADER
    assert db_text == dir_text
    assert db_text.splitlines()[3].startswith("L3,P3,CNY,250000.00,159846.48,")
    # A book past --loans-per-batch is computed a few components at a time: the same file, byte for byte.
    batched = run(
        "coverage",
        "--from",
        str(book),
        "--as-of",
        str(AS_OF),
        "--loans-per-batch",
        "1",
        "--out",
        str(tmp_path / "b.csv"),
    )
    assert batched.returncode == 0, batched.stderr
    assert " batches written to " in batched.stdout and " batches " not in from_dir.stdout
    assert (tmp_path / "b.csv").read_text() == dir_text

    as_json = run(
        "coverage",
        "--from",
        str(book),
        "--as-of",
        str(AS_OF),
        "--include-unperfected",
        "--out",
        str(tmp_path / "c.json"),
    )
    assert as_json.returncode == 0, as_json.stderr
    assert pl.read_json(tmp_path / "c.json").columns == list(EXPORT_COLUMNS)
    assert run("coverage", "--as-of", str(AS_OF), "--out", str(tmp_path / "c.parquet")).returncode == 0
    assert pl.read_parquet(tmp_path / "c.parquet").columns == list(EXPORT_COLUMNS)

    fx_book = small.write(
        tmp_path / "fx",
        {**small.FILES, "valuations": small.FILES["valuations"] + "A3,2025-06-01,60000,USD,cost,approved\n"},
    )
    refused = run("coverage", "--from", str(fx_book), "--as-of", str(AS_OF), "--out", str(tmp_path / "x.csv"))
    assert refused.returncode == 1
    assert "USD->CNY" in refused.stderr
    refused_in_batches = run(
        "coverage",
        "--from",
        str(fx_book),
        "--as-of",
        str(AS_OF),
        "--loans-per-batch",
        "1",
        "--out",
        str(tmp_path / "x.csv"),
    )
    assert refused_in_batches.returncode == 1 and "USD->CNY" in refused_in_batches.stderr
    assert not (tmp_path / "x.csv").exists()
    given = run(
        "coverage",
        "--from",
        str(fx_book),
        "--as-of",
        str(AS_OF),
        "--fx",
        "USD/CNY=7.1",
        "--out",
        str(tmp_path / "x.csv"),
    )
    assert given.returncode == 0, given.stderr
    l3 = next(line for line in (tmp_path / "x.csv").read_text().splitlines() if line.startswith("L3,"))
    assert l3.startswith("L3,P3,CNY,250000.00,409846.48,")  # as over HTTP with fx=USD/CNY=7.1
    for bad in ("USD/CNY=0", "USD:CNY=7"):
        r = run(
            "coverage", "--from", str(fx_book), "--as-of", str(AS_OF), "--fx", bad, "--out", str(tmp_path / "y.csv")
        )
        assert r.returncode == 2 and bad in r.stderr, r.stderr
    bad_suffix = run("coverage", "--as-of", str(AS_OF), "--out", str(tmp_path / "x.xlsx"))
    assert bad_suffix.returncode != 0 and ".csv" in bad_suffix.stderr


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "3000-01-01", "1899-12-31"])
async def test_as_of_near_the_calendars_ends_is_422_not_500(client, as_role, tmp_path: Path, day: str) -> None:
    headers = as_role(Role.ASSET_MANAGER)
    await _import_small(tmp_path)
    for url in (
        f"/api/coverage/loans?as_of={day}",
        f"/api/coverage/loans?as_of={day}&format=csv",
        f"/api/coverage/loans/L1?as_of={day}",
        f"/api/coverage/borrowers?as_of={day}",
        f"/api/coverage/summary?as_of={day}",
        f"/api/worklist/assets?as_of={day}",
        f"/api/worklist/liens?as_of={day}",
    ):
        r = await client.get(url, headers=headers)
        assert r.status_code == 422, (url, r.status_code, r.text)
        assert r.json()["errors"][0]["field"] == "as_of", url
    for page in (f"/coverage?as_of={day}", f"/worklist?as_of={day}"):
        r = await client.get(page, headers=headers)
        assert r.status_code == 422, (page, r.status_code)
        assert "as_of" in r.text
    r = await client.post(
        "/api/coverage/stress",
        json={"as_of": day, "by_kind": [{"kind": "real_estate", "change_pct": "-10"}]},
        headers=as_role(Role.CREDIT_OFFICER),
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "as_of"
    ok = await client.get("/api/coverage/summary?as_of=2999-12-31", headers=headers)
    assert ok.status_code == 200, ok.text
