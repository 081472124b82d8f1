"""Crash safety: the real server is killed with SIGKILL in the middle of a large import, a settlement and a burst of
bids, then started again; nothing may be half-written and the audit chain must verify.

"In the middle" is observed, not guessed: the harness watches the database until the server holds a write
transaction open (PostgreSQL: its backend in pg_stat_activity inside a transaction; SQLite: the write lock taken),
then kills it. Each scenario asserts that the kill did land mid-write (the work is absent after the restart), that
nothing of it is left, and that doing it again afterwards gives the whole result exactly once.

Runs on the engine of the pass (COLLATERAL_TEST_ENGINE): its own SQLite file, or its own PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ENGINE
from tests.servers import collateral, free_port

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
CRASH_DB = "collateral_crash_safety"
LOANS = 6000  # enough that the import and the settlement hold their write transaction for a while
LIENS = 12

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


@dataclass
class Database:
    """The harness's own view of the server's database: plain queries, and whether a write transaction is open."""

    url: str
    sqlite_path: Path | None

    async def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.sqlite_path is not None:
            with contextlib.closing(sqlite3.connect(self.sqlite_path)) as db:
                return [tuple(r) for r in db.execute(sql).fetchall()]
        import asyncpg

        conn = await asyncpg.connect(self.url)
        try:
            return [tuple(r) for r in await conn.fetch(sql)]
        finally:
            await conn.close()

    async def value(self, sql: str) -> Any:
        return (await self.rows(sql))[0][0]

    async def writing(self) -> bool:
        """True while another connection holds a write transaction open."""
        if self.sqlite_path is not None:
            db = sqlite3.connect(self.sqlite_path, timeout=0, isolation_level=None)
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                return True  # the write lock is taken
            else:
                db.execute("ROLLBACK")
                return False
            finally:
                db.close()
        # A backend of the server's database inside a transaction that has written (holds a transaction id).
        return bool(
            await self.value(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
            )
        )


class Server:
    """`collateral serve` as a process of its own, started and killed at will."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*collateral(), "serve", "--port", str(port)],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        for _ in range(600):
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            import time

            time.sleep(0.1)
        raise AssertionError("server did not answer /health")

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Database, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("crash")
    if ENGINE == "postgres":
        admin = POSTGRES_URL
        for sql in (f"DROP DATABASE IF EXISTS {CRASH_DB} WITH (FORCE)", f"CREATE DATABASE {CRASH_DB}"):
            subprocess.run(["psql", admin, "-qc", sql], check=True, capture_output=True)
        url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{CRASH_DB}"
        db = Database(url, None)
    else:
        url = f"sqlite:///{tmp / 'crash.sqlite3'}"
        db = Database(url, tmp / "crash.sqlite3")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "COLLATERAL_DATA_DIR": str(tmp / "data"),
        "COLLATERAL_SECRET_KEY": "crash-safety-test-secret-key-of-32-bytes-or-more",
        "COLLATERAL_LOGIN_ATTEMPTS_PER_MINUTE": "10000",
    }
    env.pop("COLLATERAL_REDIS_URL", None)
    seeded = subprocess.run(
        [sys.executable, "-m", "tests.live_seed", "18"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    env["CRASH_ROUND"] = seeded.stdout.strip().splitlines()[-1]
    server = Server(env, tmp / "server.log")
    server.start()
    try:
        yield server, db, env
    finally:
        server.stop()
        if ENGINE == "postgres":
            subprocess.run(
                ["psql", POSTGRES_URL, "-qc", f"DROP DATABASE IF EXISTS {CRASH_DB} WITH (FORCE)"],
                check=False,
                capture_output=True,
            )


@contextlib.asynccontextmanager
async def client(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=120) as c:
        yield c


async def token(c: httpx.AsyncClient, name: str) -> dict[str, str]:
    r = await c.post("/api/auth/login", json={"username": name, "password": f"{name}-password"})
    assert r.status_code in (200, 201), r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def kill_while_writing(server: Server, db: Database, work: asyncio.Task[Any]) -> None:
    """SIGKILL the server as soon as it holds a write transaction open while `work` is under way."""
    for _ in range(6000):
        if work.done():
            break
        if await db.writing():
            server.kill()
            break
        await asyncio.sleep(0.005)
    with contextlib.suppress(httpx.HTTPError):
        await work
    assert not work.done() or work.exception() is None or isinstance(work.exception(), httpx.HTTPError)


def audit_verifies(env: dict[str, str]) -> None:
    verified = subprocess.run(
        [*collateral(), "audit", "verify"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


def _write(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def write_book(directory: Path) -> None:
    """One owner's tower under LIENS own mortgages securing LOANS loans (prefix CR-), as the seven import files."""
    directory.mkdir(parents=True, exist_ok=True)
    _write(
        directory / "parties.csv",
        ["party_id", "name", "kind"],
        [["CR-OWNER", "Crash Owner Ltd", "company"]]
        + [[f"CR-P{i:03d}", f"Borrower {i}", "company"] for i in range(200)],
    )
    _write(
        directory / "loans.csv",
        ["loan_id", "borrower_id", "currency", "principal", "interest", "penalty", "fees", "status"],
        [
            [
                f"CR-L{i:05d}",
                f"CR-P{i % 200:03d}",
                "CNY",
                f"{50_000 + i}.00",
                "700.13",
                "25.00",
                "10.50",
                "non_performing",
            ]
            for i in range(LOANS)
        ],
    )
    _write(
        directory / "assets.csv",
        ["asset_id", "kind", "owner_id", "description"],
        [["CR-A", "real_estate", "CR-OWNER", "Office tower"]],
    )
    _write(
        directory / "policies.csv",
        ["kind", "haircut", "revaluation_days", "max_ltv"],
        [["real_estate", "0.30", "365", "0.70"]],
    )
    valued_on = (date.today() - timedelta(days=30)).isoformat()
    _write(
        directory / "valuations.csv",
        ["asset_id", "valued_on", "market_value", "currency", "method", "status"],
        [["CR-A", valued_on, "900000000.00", "CNY", "market_comparison", "approved"]],
    )
    _write(
        directory / "liens.csv",
        ["lien_id", "asset_id", "kind", "holder", "status", "perfected_at", "cap", "external_claim"],
        [
            [f"CR-M{j:02d}", "CR-A", "mortgage", "own", "registered", f"2025-02-{1 + j:02d}T02:00:00Z", "", ""]
            for j in range(LIENS)
        ],
    )
    _write(
        directory / "lien_loans.csv",
        ["lien_id", "loan_id"],
        [[f"CR-M{i % LIENS:02d}", f"CR-L{i:05d}"] for i in range(LOANS)],
    )


def _files(directory: Path) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (p.name, p.read_bytes(), "text/csv")) for p in sorted(directory.glob("*.csv"))]


async def book_state(db: Database) -> tuple[int, int, int, int]:
    return (
        await db.value("SELECT count(*) FROM loan WHERE ref LIKE 'CR-%'"),
        await db.value("SELECT count(*) FROM posting p JOIN loan l ON l.id = p.loan WHERE l.ref LIKE 'CR-%'"),
        await db.value("SELECT count(*) FROM lien WHERE ref LIKE 'CR-%'"),
        await db.value("SELECT count(*) FROM lien_loan ll JOIN lien m ON m.id = ll.lien WHERE m.ref LIKE 'CR-%'"),
    )


async def test_1_killed_during_a_large_import_it_is_all_or_nothing(harness, tmp_path: Path) -> None:
    server, db, env = harness
    write_book(tmp_path / "book")
    async with client(server) as c:
        admin = await token(c, "admin")
        work = asyncio.create_task(c.post("/api/imports", headers=admin, files=_files(tmp_path / "book")))
        await kill_while_writing(server, db, work)
    assert await book_state(db) == (0, 0, 0, 0), "the kill landed mid-import, so nothing of it may be there"
    server.start()
    audit_verifies(env)
    async with client(server) as c:
        r = await c.post("/api/imports", headers=await token(c, "admin"), files=_files(tmp_path / "book"))
        assert r.status_code == 201, r.text
    assert await book_state(db) == (LOANS, LOANS, LIENS, LOANS)
    audit_verifies(env)


async def test_2_killed_during_a_settlement_it_settles_once_after_the_restart(harness) -> None:
    server, db, env = harness
    async with client(server) as c:
        one, two = await token(c, "officer"), await token(c, "officer2")
        r = await c.post(
            "/api/disposals", headers=one, json={"ref": "DC-CRASH", "asset_refs": ["CR-A"], "profile": "cn-commercial"}
        )
        assert r.status_code == 201, r.text
        assert (
            await c.post("/api/disposals/DC-CRASH/moves", headers=one, json={"to": "start_private_sale"})
        ).status_code == 200
        r = await c.post(
            "/api/disposals/DC-CRASH/offers", headers=one, json={"buyer": "Crash Buyer", "price": "400000000.00"}
        )
        assert r.status_code == 201, r.text
        offer = r.json()["offers"][0]["id"]
        assert (await c.post(f"/api/disposals/DC-CRASH/offers/{offer}/accept", headers=two)).status_code == 200
        r = await c.post("/api/disposals/DC-CRASH/settlement", headers=one, json={"expenses": []})
        assert r.status_code == 201, r.text
        events_before = await db.value("SELECT count(*) FROM audit_event")
        work = asyncio.create_task(c.post("/api/disposals/DC-CRASH/settlement/confirm", headers=two))
        await kill_while_writing(server, db, work)
    # Killed mid-confirmation: not settled, and not one of its writes is there.
    assert await db.value("SELECT state FROM disposal_case WHERE ref = 'DC-CRASH'") != "settled"
    assert await db.value("SELECT count(*) FROM posting WHERE kind = 'disposal_proceeds'") == 0
    assert await db.value("SELECT count(*) FROM lien WHERE ref LIKE 'CR-%' AND status = 'registered'") == LIENS
    assert await db.value("SELECT status FROM asset WHERE ref = 'CR-A'") == "in_disposal"
    assert await db.value("SELECT count(*) FROM audit_event") == events_before
    server.start()
    audit_verifies(env)
    async with client(server) as c:
        two = await token(c, "officer2")
        r = await c.post("/api/disposals/DC-CRASH/settlement/confirm", headers=two)
        assert r.status_code == 200, r.text
        again = await c.post("/api/disposals/DC-CRASH/settlement/confirm", headers=two)
        assert again.status_code == 409, again.text
    assert await db.value("SELECT state FROM disposal_case WHERE ref = 'DC-CRASH'") == "settled"
    assert await db.value("SELECT count(*) FROM posting WHERE kind = 'disposal_proceeds'") == LOANS
    assert await db.value("SELECT count(*) FROM lien WHERE ref LIKE 'CR-%' AND status = 'released'") == LIENS
    audit_verifies(env)


async def test_3_killed_during_a_burst_of_bids_every_answered_bid_stands_and_the_lead_agrees(harness) -> None:
    server, db, env = harness
    round_id = int(env["CRASH_ROUND"])
    names = ["alice", "bob", *(f"bidder{i:03d}" for i in range(18))]
    answered: dict[int, int] = {}  # bid id -> status, for every bid the server answered before it died
    async with client(server) as c:
        headers = [await token(c, n) for n in names]

        async def bidder(i: int) -> None:
            price = 600_000_00 + i * 1000_00
            for n in range(1000):
                price += 20 * 1000_00
                try:
                    r = await c.post(
                        f"/api/rounds/{round_id}/bids",
                        headers={**headers[i], "Idempotency-Key": f"crash-{i}-{n}"},
                        json={"amount": f"{price // 100}.{price % 100:02d}"},
                    )
                except httpx.HTTPError:
                    return
                if r.json().get("bid_id") is not None:
                    answered[r.json()["bid_id"]] = r.status_code

        async def burst() -> None:
            await asyncio.gather(*(bidder(i) for i in range(len(names))))

        work = asyncio.create_task(burst())
        await asyncio.sleep(0.5)  # a burst under way, some bids already answered
        await kill_while_writing(server, db, work)
    accepted = {r[0] for r in await db.rows(f"SELECT id FROM bid WHERE round = {round_id} AND accepted")}
    assert answered, "no bid was answered before the kill"
    assert {i for i, status in answered.items() if status == 201} <= accepted, "an answered bid was lost"
    stored = {r[0] for r in await db.rows(f"SELECT id FROM bid WHERE round = {round_id}")}
    assert set(answered) <= stored
    count, price = (await db.rows(f"SELECT bid_count, current_price FROM auction_round WHERE id = {round_id}"))[0]
    top = await db.value(f"SELECT max(price_after) FROM bid WHERE round = {round_id} AND accepted")
    assert (count, price) == (len(accepted), top), "the round's lead disagrees with its accepted bids"
    audited = await db.value("SELECT count(*) FROM audit_event WHERE action = 'bid'")
    assert audited == len(accepted)
    server.start()
    audit_verifies(env)
    async with client(server) as c:
        state = (await c.get(f"/api/rounds/{round_id}", headers=await token(c, "officer"))).json()
    assert state["bid_count"] == len(accepted)
