"""Time the waterfall preview and the settlement of one asset under 40 liens securing 5,000 loans, on PostgreSQL.

    python bench/settlement.py [--loans 5000] [--liens 40] [--runs 5] [--database collateral_bench_settlement]

1. A fresh database (dropped and created), the migrations, and a book written as import files and loaded with
   `collateral import`: one owner and 500 borrowers, --loans loans (principal, interest, penalty and fees), one
   real_estate asset with an approved appraisal, --liens liens on it (two of them other creditors' ranking first;
   our own liens registered on days that pair up, so ranks are shared) and every loan secured by one own lien,
   every tenth loan by a second one too.
2. In process, through the app (httpx over ASGI, the app's lifespan run, PostgreSQL pool), as two disposal
   officers: open a cn-commercial case on the asset, start the private sale, record an offer, accept it as the
   second officer. Then, timed: the single-asset preview POST /api/assets/{ref}/waterfall and the case preview
   POST /api/disposals/{ref}/waterfall, --runs times each (best and median); the settlement proposal; the
   confirmation (once: it settles exactly once).
3. Checks that the settlement wrote what it should (a posting per loan paid, every registered lien
   released, the asset disposed, the audit chain verifies), prints a table and writes
   bench/results/settlement.json with the machine. Targets (issue 10, 2 cores): preview <= 200 ms, settlement
   (the confirmation) <= 3 s. Exit status 1 when a request failed or a check did not hold; missing a target is
   reported, not an error.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_scripts

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "settlement.json"
ASSET = "A-BENCH"
CASE = "DC-BENCH"
TARGETS = {"preview_s": 0.2, "settlement_s": 3.0}


bi = bench_scripts.load("import.py", "bench_import")


def _write(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def write_book(directory: Path, loans: int, liens: int) -> None:
    _write(
        directory / "parties.csv",
        ["party_id", "name", "kind"],
        [["P-OWNER", "Owner Holdings Ltd", "company"]]
        + [[f"P{i:04d}", f"Borrower {i}", "company"] for i in range(500)],
    )
    _write(
        directory / "loans.csv",
        ["loan_id", "borrower_id", "currency", "principal", "interest", "penalty", "fees", "status"],
        [
            [
                f"L{i:05d}",
                f"P{i % 500:04d}",
                "CNY",
                f"{100_000 + i * 7}.00",
                f"{1_000 + i % 997}.13",
                "25.00",
                "10.50",
                "non_performing",
            ]
            for i in range(loans)
        ],
    )
    _write(
        directory / "assets.csv",
        ["asset_id", "kind", "owner_id", "description"],
        [[ASSET, "real_estate", "P-OWNER", "Office tower"]],
    )
    _write(
        directory / "policies.csv",
        ["kind", "haircut", "revaluation_days", "max_ltv"],
        [["real_estate", "0.30", "365", "0.70"]],
    )
    _write(
        directory / "valuations.csv",
        ["asset_id", "valued_on", "market_value", "currency", "method", "status"],
        [
            [
                ASSET,
                time.strftime("%Y-%m-%d", time.gmtime(time.time() - 30 * 86400)),
                "900000000.00",
                "CNY",
                "market_comparison",
                "approved",
            ]
        ],
    )
    own = liens - 2
    lien_rows = [
        ["X-1", ASSET, "mortgage", "Bank of Example", "registered", "2025-01-02T02:00:00Z", "", "20000000.00"],
        ["X-2", ASSET, "mortgage", "Second Creditor Co", "registered", "2025-01-03T02:00:00Z", "", "5000000.00"],
    ]
    for j in range(own):
        # Two own liens per registration day: ranks are shared, so the pro-rata split across liens is exercised.
        lien_rows.append(
            [f"M-{j:02d}", ASSET, "mortgage", "own", "registered", f"2025-02-{1 + j // 2:02d}T02:00:00Z", "", ""]
        )
    _write(
        directory / "liens.csv",
        ["lien_id", "asset_id", "kind", "holder", "status", "perfected_at", "cap", "external_claim"],
        lien_rows,
    )
    links = [[f"M-{i % own:02d}", f"L{i:05d}"] for i in range(loans)]
    links += [[f"M-{(i + 1) % own:02d}", f"L{i:05d}"] for i in range(0, loans, 10)]
    _write(directory / "lien_loans.csv", ["lien_id", "loan_id"], links)


def psql(sql: str, database: str = "postgres") -> None:
    subprocess.run([*bi._psql(database), "-qc", sql], check=True, capture_output=True)


async def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    import httpx
    from asgi_lifespan import LifespanManager

    from app import create_app
    from registry import audit
    from registry.roles import Role
    from registry.services.users import create_user

    out: dict[str, Any] = {"errors": []}
    app = create_app()
    async with LifespanManager(app):
        for name in ("bench-officer-1", "bench-officer-2"):
            await create_user(name, "bench-officer-password", Role.DISPOSAL_OFFICER, "bench")
        token = {
            n: app.state.jwt_auth.create_token(identifier=n, token_extras={"role": "disposal_officer"})
            for n in ("bench-officer-1", "bench-officer-2")
        }
        one = {"Authorization": f"Bearer {token['bench-officer-1']}"}
        two = {"Authorization": f"Bearer {token['bench-officer-2']}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=600) as c:

            async def call(method: str, path: str, headers: dict[str, str], body: Any = None) -> tuple[float, Any]:
                started = time.perf_counter()
                r = await c.request(method, path, headers=headers, json=body)
                seconds = time.perf_counter() - started
                if r.status_code >= 400:
                    out["errors"].append(f"{method} {path}: {r.status_code} {r.text[:300]}")
                return seconds, r.json() if r.content else None

            s, case = await call(
                "POST", "/api/disposals", one, {"ref": CASE, "asset_refs": [ASSET], "profile": "cn-commercial"}
            )
            out["open_case_s"] = round(s, 4)
            out["secured_loans"] = len(case["loans"]) if case else 0
            await call("POST", f"/api/disposals/{CASE}/moves", one, {"to": "start_private_sale"})
            _, case = await call(
                "POST", f"/api/disposals/{CASE}/offers", one, {"buyer": "Bench Buyer", "price": "600000000.00"}
            )
            offer_id = case["offers"][0]["id"]
            await call("POST", f"/api/disposals/{CASE}/offers/{offer_id}/accept", two)
            body = {
                "gross_proceeds": "600000000.00",
                "expenses": [
                    {"kind": "commission", "amount": "3000000.00"},
                    {"kind": "court_fee", "amount": "125000.00"},
                ],
            }
            for name, path in (
                ("asset_preview", f"/api/assets/{ASSET}/waterfall"),
                ("case_preview", f"/api/disposals/{CASE}/waterfall"),
            ):
                times = []
                for _ in range(args.runs):
                    s, preview = await call("POST", path, one, body)
                    times.append(s)
                out[name] = {
                    "best_s": round(min(times), 4),
                    "median_s": round(statistics.median(times), 4),
                    "lines": len(preview["lines"]) if preview else 0,
                }
            s, _ = await call("POST", f"/api/disposals/{CASE}/settlement", one, {"expenses": body["expenses"]})
            out["propose_s"] = round(s, 4)
            s, settled = await call("POST", f"/api/disposals/{CASE}/settlement/confirm", two)
            out["settlement_s"] = round(s, 4)
            lines = settled["waterfall"]["lines"] if settled and "waterfall" in settled else []
            out["settlement_lines"] = len(lines)
            out["own_loans_paid"] = len({x["loan_id"] for x in lines if x["holder"] == "own"})
        from auctions.tables import DisposalCase
        from registry.tables import Asset, Lien, Posting

        out["postings_written"] = await Posting.count().where(Posting.kind == "disposal_proceeds")
        out["liens_released"] = await Lien.count().where(Lien.status == "released")
        asset = await Asset.select(Asset.status).where(Asset.ref == ASSET).first()
        case_row = await DisposalCase.select(DisposalCase.state).where(DisposalCase.ref == CASE).first()
        report = await audit.verify()
        out["checks"] = {
            "asset_disposed": bool(asset and asset["status"] == "disposed"),
            "case_settled": bool(case_row and case_row["state"] == "settled"),
            "every_lien_released": out["liens_released"] == args.liens,
            "a_posting_per_loan_paid": out["postings_written"] == out["own_loans_paid"],
            "audit_chain_verifies": report.ok,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=5000)
    parser.add_argument("--liens", type=int, default=40)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database", default="collateral_bench_settlement")
    args = parser.parse_args(argv)
    url = f"postgresql://postgres@127.0.0.1:5432/{args.database}"
    psql(f"DROP DATABASE IF EXISTS {args.database}")
    psql(f"CREATE DATABASE {args.database}")
    env = {**os.environ, "DATABASE_URL": url}
    with tempfile.TemporaryDirectory() as tmp:
        env["COLLATERAL_DATA_DIR"] = tmp
        subprocess.run([bi._collateral(), "migrate"], env=env, check=True, capture_output=True)
        book = Path(tmp) / "book"
        book.mkdir()
        write_book(book, args.loans, args.liens)
        started = time.perf_counter()
        imported = subprocess.run(
            [bi._collateral(), "import", str(book)], env=env, capture_output=True, text=True, check=False
        )
        if imported.returncode:
            raise SystemExit(f"import failed:\n{imported.stderr[-3000:]}")
        load_s = time.perf_counter() - started
        os.environ.update(DATABASE_URL=url, COLLATERAL_DATA_DIR=tmp)
        sys.path.insert(0, str(ROOT))
        figures = asyncio.run(run(args, url))
    figures["book_import_s"] = round(load_s, 2)
    met = {
        "preview": figures["asset_preview"]["median_s"] <= TARGETS["preview_s"]
        and figures["case_preview"]["median_s"] <= TARGETS["preview_s"],
        "settlement": figures.get("settlement_s", 1e9) <= TARGETS["settlement_s"],
    }
    result = {
        "loans": args.loans,
        "liens": args.liens,
        "runs": args.runs,
        "figures": figures,
        "targets": TARGETS,
        "met": met,
        "machine": bi.machine(),
        "versions": bi.versions(env),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"settlement bench: {args.loans} loans under {args.liens} liens on one asset (PostgreSQL)")
    for key in (
        "book_import_s",
        "open_case_s",
        "propose_s",
        "settlement_s",
        "secured_loans",
        "settlement_lines",
        "postings_written",
    ):
        print(f"  {key:<22} {figures.get(key)}")
    for key in ("asset_preview", "case_preview"):
        print(
            f"  {key:<22} best {figures[key]['best_s']} s, median {figures[key]['median_s']} s "
            f"({figures[key]['lines']} lines)"
        )
    print(
        f"  targets: preview <= 0.2 s {'met' if met['preview'] else 'MISSED'}; "
        f"settlement <= 3 s {'met' if met['settlement'] else 'MISSED'}"
    )
    print(f"  checks: {figures['checks']}")
    print(f"  errors: {figures['errors'] or 'none'}")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 1 if figures["errors"] or not all(figures["checks"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
