"""Time the coverage HTTP API on the 1M-loan book in PostgreSQL, as a user meets it: cold, then warm.

    python bench/coverage_api.py [--loans 1000000] [--seed 1] [--runs 3] [--as-of 2026-11-28] [--timeout 600]

1. The book in the database collateral_bench, as bench/coverage.py leaves it (`postgres_book`: imported only when
   the database does not hold exactly the book's row counts; then ANALYZE). A credit_officer user
   (`collateral users add bench-coverage-api --role credit_officer`, "already exists" is fine), then
   `collateral serve --port P` as a subprocess (COLLATERAL_DATA_DIR in a temporary directory), waiting for /health,
   and a login (POST /api/auth/login, Bearer token).
2. Sequential requests with httpx, the wall time of each (the whole body read), every one with the as-of date and
   the two fx rates the generated book needs (USD/CNY=7.1, HKD/CNY=0.92):
   - cold: the first GET /api/coverage/summary after the server started (reads the book and computes);
   - warm, --runs times (best and median): the summary again, one loan, loans pages 3 and 9000, borrowers page 2,
     one borrower, the whole loans export as CSV, a stress scenario by kind (and by region when some real_estate
     asset has a parcel; the generated book has none, so that case is skipped and said so), a what-if
     capitalising a loan's interest and one releasing a lien;
   - book changed, once per run: POST a repayment of 1.00 principal on a loan (this WRITES to collateral_bench),
     then GET the summary (the audit chain head moved: the cached coverage is patched for that loan's component),
     then reverse that posting and GET the loan's explanation (patched again), then the summary (cached). The
     reversal puts every balance back, so bench/coverage.py's PostgreSQL export stays
     identical to its --from export; the database keeps the two postings and their audit events.
3. The server's peak resident memory (VmHWM of /proc/<pid>/status, read before it is stopped; VmRSS after the cold
   summary and at the end too), the load averages, the machine and the versions. Prints a table and writes
   bench/results/coverage_api.json. No targets are set; the exit status is 1 only when a request failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_scripts
import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "coverage_api.json"
USER = "bench-coverage-api"
PASSWORD = "bench-coverage-api-password-0123"


bc = bench_scripts.load("coverage.py", "bench_coverage")
bi = bc.bi


@dataclass
class Timings:
    """Every timed request, by case name, in the order the cases first ran."""

    cases: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, name: str, seconds: float, response: httpx.Response) -> None:
        entry = {"s": round(seconds, 4), "status": response.status_code, "bytes": len(response.content)}
        self.cases.setdefault(name, []).append(entry)
        if response.status_code >= 400:
            self.errors.append(f"{name}: {response.status_code} {response.text[:300]}")


class Api:
    def __init__(self, base: str, as_of: str, timeout: float) -> None:
        self.client = httpx.Client(base_url=base, timeout=timeout)
        self.as_of = as_of
        self.timings = Timings()

    def params(self, **extra: Any) -> list[tuple[str, str]]:
        found = [("as_of", self.as_of), *(("fx", pair) for pair in bc.FX)]
        return found + [(k, str(v)) for k, v in extra.items()]

    def body(self, **content: Any) -> dict[str, Any]:
        return {**content, "as_of": self.as_of, "fx": list(bc.FX)}

    def timed(self, name: str | None, method: str, url: str, **kwargs: Any) -> httpx.Response:
        started = time.perf_counter()
        response = self.client.request(method, url, **kwargs)
        seconds = time.perf_counter() - started  # httpx has read the whole body by now
        if name is not None:
            self.timings.add(name, seconds, response)
        return response

    def get(self, name: str | None, url: str, **extra: Any) -> httpx.Response:
        return self.timed(name, "GET", url, params=self.params(**extra))

    def ok(self, response: httpx.Response, what: str) -> Any:
        """The JSON of a setup request, which the rest needs: anything but 2xx stops the bench."""
        if response.status_code >= 300:
            raise RuntimeError(f"{what}: {response.status_code} {response.text[:500]}")
        return response.json()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MiB."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {key: round(int(kib) / 1024, 1) for key, kib in re.findall(r"^(VmRSS|VmHWM):\s*(\d+) kB", text, re.M)}


def add_user(env: dict[str, str]) -> str:
    done = subprocess.run(
        [bi._collateral(), "users", "add", USER, "--role", "credit_officer"],
        env={**env, "COLLATERAL_PASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    said = (done.stdout + done.stderr).strip()
    if done.returncode != 0 and "already exists" not in said:
        raise RuntimeError(f"collateral users add failed: {said}")
    return said.splitlines()[-1] if said else ""


def wait_for_health(server: subprocess.Popen[bytes], base: str, log: Path, timeout: float = 120) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if server.poll() is not None:
            raise RuntimeError(f"collateral serve exited ({server.returncode}):\n{bi._tail(log.read_text())}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return round(time.perf_counter() - started, 2)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"no /health after {timeout} s:\n{bi._tail(log.read_text())}")


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def find_loans(api: Api, items: list[dict[str, Any]]) -> tuple[str, str]:
    """A loan with principal and interest outstanding (for the what-if and the repayment) and an own
    registered lien securing it (for the release)."""
    for item in items:
        loan = api.ok(api.get(None, f"/api/loans/{item['loan_id']}"), "GET /api/loans/{ref}")
        balance = loan["balance"]
        if float(balance["principal"]) < 2 or float(balance["interest"]) <= 0:
            continue
        liens = api.ok(
            api.timed(
                None,
                "GET",
                "/api/liens",
                params={"loan_ref": item["loan_id"], "status": "registered", "page_size": "20"},
            ),
            "GET /api/liens",
        )
        own = [lien["ref"] for lien in liens["items"] if lien.get("external_claim") is None]
        if own:
            return item["loan_id"], own[0]
    raise RuntimeError("no loan on the first page has principal and interest outstanding and a registered lien")


def find_region(api: Api, env: dict[str, str]) -> tuple[dict[str, Any] | None, str]:
    """A GeoJSON polygon around the parcel of some real_estate asset, or None and why not."""
    query = (
        "SELECT ref FROM asset WHERE kind = 'real_estate' AND geometry IS NOT NULL ORDER BY id LIMIT 1; "
        "SELECT count(*) FROM asset WHERE geometry IS NOT NULL"
    )
    done = subprocess.run(
        [*bi._psql(bi.PG_DATABASE), "-tAc", query], env=env, capture_output=True, text=True, check=False
    )
    lines = done.stdout.split()
    if done.returncode != 0 or not lines:
        return None, f"could not look for parcels: {done.stderr.strip()}"
    if len(lines) < 2:
        return None, f"the book has no real_estate asset with a parcel ({lines[0]} assets with a parcel in all)"
    ref = lines[0]
    asset = api.ok(api.get(None, f"/api/assets/{ref}"), "GET /api/assets/{ref}")
    if not asset.get("parcel") or not asset.get("geometry"):
        return None, f"asset {ref} has no geometry over the API"
    lon0, lat0, lon1, lat1 = asset["parcel"]["bbox"]
    pad = 0.001  # about 100 m: the parcel and its neighbours
    ring = [
        [lon0 - pad, lat0 - pad],
        [lon1 + pad, lat0 - pad],
        [lon1 + pad, lat1 + pad],
        [lon0 - pad, lat1 + pad],
        [lon0 - pad, lat0 - pad],
    ]
    return {"type": "Polygon", "coordinates": [ring]}, f"bounding box of asset {ref}'s parcel, widened by {pad}°"


def warm_round(api: Api, picks: dict[str, Any]) -> None:
    api.get("summary", "/api/coverage/summary")
    api.get("loan detail", f"/api/coverage/loans/{picks['loan']}")
    api.get("loans page 3", "/api/coverage/loans", page=3)
    api.get("loans page 9000", "/api/coverage/loans", page=9000)
    api.get("borrowers page 2", "/api/coverage/borrowers", page=2)
    api.get("borrower detail", f"/api/coverage/borrowers/{picks['borrower']}")
    # The risk-warning home page: one query per signal, kept per audit head. On the generated book (valued in three
    # currencies) its breach figure needs exchange rates the page does not take, so this times the other signals'
    # queries; the warm summary above is the breach figure's cost. The first view after a change computes them.
    for name in ("home page (first view after a change)", "home page (warm)"):
        home = api.timed(name, "GET", "/home")
        if home.status_code != 200:
            raise RuntimeError(f"GET /home: {home.status_code} {home.text[:300]}")
    api.get("loans export CSV", "/api/coverage/loans", format="csv")
    api.timed(
        "stress by kind",
        "POST",
        "/api/coverage/stress",
        json=api.body(by_kind=[{"kind": "real_estate", "change_pct": "-30"}]),
    )
    if picks["region"] is not None:
        api.timed(
            "stress by region",
            "POST",
            "/api/coverage/stress",
            json=api.body(by_region=[{"region": picks["region"], "change_pct": "-20"}]),
        )
    api.timed(
        "what-if capitalise interest",
        "POST",
        "/api/coverage/what-if",
        json=api.body(changes=[{"type": "capitalise_interest", "loan_id": picks["what_if_loan"]}]),
    )
    api.timed(
        "what-if release lien",
        "POST",
        "/api/coverage/what-if",
        json=api.body(changes=[{"type": "release_lien", "lien_id": picks["lien"]}]),
    )


def book_changed_round(api: Api, picks: dict[str, Any]) -> None:
    loan = picks["what_if_loan"]
    posted = api.timed(
        "post repayment",
        "POST",
        f"/api/loans/{loan}/postings",
        json={"kind": "repayment", "value_date": api.as_of, "principal": "1.00", "memo": "bench/coverage_api.py"},
    )
    posting = api.ok(posted, "POST repayment")
    # The first read after a posting patches the cached coverage (valuation.coverage.incremental).
    api.get("summary after a posting", "/api/coverage/summary")
    reversed_ = api.timed(
        "reverse the repayment",
        "POST",
        f"/api/loans/{loan}/postings/{posting['id']}/reversal",
        json={"memo": "bench/coverage_api.py: undo"},
    )
    api.ok(reversed_, "POST reversal")
    api.get("loan detail after a posting", f"/api/coverage/loans/{loan}")
    api.get("summary (after the loan detail)", "/api/coverage/summary")


ORDER = (
    "summary (cold, first request)",
    "summary",
    "loan detail",
    "loans page 3",
    "loans page 9000",
    "borrowers page 2",
    "borrower detail",
    "home page (first view after a change)",
    "home page (warm)",
    "loans export CSV",
    "stress by kind",
    "stress by region",
    "what-if capitalise interest",
    "what-if release lien",
    "post repayment",
    "summary after a posting",
    "reverse the repayment",
    "loan detail after a posting",
    "summary (after the loan detail)",
)


def summarise(cases: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in [n for n in ORDER if n in cases] + [n for n in cases if n not in ORDER]:
        seconds = [c["s"] for c in cases[name]]
        out[name] = {
            "n": len(seconds),
            "best_s": min(seconds),
            "median_s": round(statistics.median(seconds), 4),
            "worst_s": max(seconds),
            "statuses": sorted({c["status"] for c in cases[name]}),
            "bytes": cases[name][-1]["bytes"],
            "runs": cases[name],
        }
    return out


def print_table(figures: dict[str, Any]) -> None:
    header = f"{'request':<36} {'n':>2} {'best s':>8} {'median s':>9} {'status':>7} {'bytes':>12}"
    print(header)
    print("-" * len(header))
    for name, f in figures.items():
        status = ",".join(str(s) for s in f["statuses"])
        print(f"{name:<36} {f['n']:>2} {f['best_s']:>8.3f} {f['median_s']:>9.3f} {status:>7} {f['bytes']:>12,}")


def session(engine: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Start the server, time every request, stop it (also on error): the timings, picks, memory, log tail."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {"api": Api(base, args.as_of, args.timeout), "picks": {}, "memory": {}}
    api, picks, memory = out["api"], out["picks"], out["memory"]
    with tempfile.TemporaryDirectory(prefix="coverage-api-") as data_dir:
        env = {**engine.env, "COLLATERAL_DATA_DIR": data_dir}
        log = Path(data_dir) / "serve.log"
        with log.open("wb") as log_file:
            server = subprocess.Popen(
                [bi._collateral(), "serve", "--port", str(port)],
                env=env,
                cwd=ROOT,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        try:
            out["started_in_s"] = wait_for_health(server, base, log)
            login = api.timed(None, "POST", "/api/auth/login", json={"username": USER, "password": PASSWORD})
            api.client.headers["Authorization"] = f"Bearer {api.ok(login, 'login')['access_token']}"
            memory["before_first_request"] = proc_status(server.pid)
            print(f"server up in {out['started_in_s']} s on port {port}; cold summary ...", flush=True)

            cold = api.get("summary (cold, first request)", "/api/coverage/summary")
            api.ok(cold, "cold summary")
            memory["after_cold_summary"] = proc_status(server.pid)
            first = api.ok(api.get(None, "/api/coverage/loans", page=1), "loans page 1")["items"]
            picks["loan"], picks["borrower"] = first[0]["loan_id"], first[0]["borrower_id"]
            picks["what_if_loan"], picks["lien"] = find_loans(api, first)
            picks["region"], picks["region_note"] = find_region(api, engine.env)
            print(
                f"picked {picks['loan']}, borrower {picks['borrower']}, what-if and repayment on "
                f"{picks['what_if_loan']}, lien {picks['lien']}; region: {picks['region_note']}",
                flush=True,
            )

            for run in range(1, args.runs + 1):
                print(f"run {run}/{args.runs}: warm requests, then the book changed ...", flush=True)
                warm_round(api, picks)
                book_changed_round(api, picks)
                memory[f"after_run_{run}"] = proc_status(server.pid)
        finally:
            memory["at_end"] = proc_status(server.pid)
            api.client.close()
            stop(server)
            out["server_log_tail"] = bi._tail(log.read_text(errors="replace"), 10)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--as-of", default="2026-11-28")
    parser.add_argument("--timeout", type=float, default=600, help="seconds one request may take")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file (JSON)")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "bench/coverage_api.py", *(sys.argv[1:] if argv is None else argv)])

    machine = bi.machine()  # with the load average before the bench adds its own
    book = bi.ensure_book(args.loans, args.seed, "parquet", bad_rows=0, reuse=True)
    engine, db_info = bc.postgres_book(book, args.loans, args.seed)
    if engine is None:
        print(f"PostgreSQL: {db_info}", file=sys.stderr)
        return 2
    user_said = add_user(engine.env)
    measured = session(engine, args)
    api, picks, memory = measured["api"], measured["picks"], measured["memory"]
    figures = summarise(api.timings.cases)
    report = {
        "benchmark": "coverage HTTP API (collateral serve, PostgreSQL)",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "machine": machine,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "versions": {**bi.versions(engine.env), "httpx": httpx.__version__},
        "book": {"loans": args.loans, "seed": args.seed, "format": "parquet", **book},
        "database": db_info,
        "user": {"name": USER, "role": "credit_officer", "cli_said": user_said},
        "as_of": args.as_of,
        "fx": list(bc.FX),
        "runs": args.runs,
        "picked": {k: v for k, v in picks.items() if k != "region"},
        "server_started_in_s": measured["started_in_s"],
        "server_memory_mib": memory,
        "server_peak_rss_mib": memory["at_end"].get("VmHWM"),
        "writes": "each run posts a repayment of 1.00 principal on the picked loan and reverses it: two postings and "
        "their audit events stay in collateral_bench; balances are as before",
        "requests": figures,
        "errors": api.timings.errors,
        "server_log_tail": measured["server_log_tail"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print()
    print_table(figures)
    print(
        f"server peak RSS {report['server_peak_rss_mib']} MiB; load average at start "
        f"{machine['load_average_1_5_15_min']}, at end {report['load_average_at_end']}"
    )
    print(f"region stress: {picks.get('region_note')}")
    print("wrote to collateral_bench: a repayment and its reversal per run (balances unchanged)")
    for error in api.timings.errors:
        print(f"ERROR {error}")
    print(f"written {args.out}")
    return 1 if api.timings.errors else 0


if __name__ == "__main__":
    sys.exit(main())
