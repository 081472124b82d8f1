"""The `collateral` command as an operator runs it: a separate process on its own SQLite file."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ENGINE

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(ENGINE != "sqlite", reason="runs its own SQLite database once, in the SQLite pass"),
]


def run(tmp_path: Path, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "COLLATERAL_DATA_DIR": str(tmp_path / "data"),
    }
    if password is not None:
        env["COLLATERAL_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_migrate_users_add_and_audit_verify(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    added = run(tmp_path, "users", "add", "alice", "--role", "asset_manager", password="correct-horse")
    assert added.returncode == 0, added.stderr
    duplicate = run(tmp_path, "users", "add", "alice", "--role", "auditor", password="correct-horse")
    assert duplicate.returncode != 0
    assert "already exists" in duplicate.stderr
    bad_role = run(tmp_path, "users", "add", "bob", "--role", "emperor", password="correct-horse")
    assert bad_role.returncode != 0
    assert "emperor" in bad_role.stderr
    short = run(tmp_path, "users", "add", "carol", "--role", "auditor", password="short")
    assert short.returncode != 0
    assert "password" in short.stderr

    verified = run(tmp_path, "audit", "verify")
    assert verified.returncode == 0
    assert "intact: 1 events" in verified.stdout

    with sqlite3.connect(tmp_path / "cli.sqlite3") as db:
        db.execute("UPDATE audit_event SET actor = 'mallory' WHERE seq = 1")
    broken = run(tmp_path, "audit", "verify")
    assert broken.returncode == 1
    assert "broken at event 1" in broken.stderr


def test_import_then_export_round_trip_and_refusal(tmp_path: Path) -> None:
    from tests.integration.books import small

    book = small.write(tmp_path / "book")
    imported = run(tmp_path, "import", str(book))
    assert imported.returncode == 0, imported.stderr
    assert "loans: 4 rows (4 inserted or changed)" in imported.stdout
    exported = run(tmp_path, "export", str(tmp_path / "out"), "--format", "parquet")
    assert exported.returncode == 0, exported.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"{n}.parquet" for n in small.FILES)

    bad = small.write(
        tmp_path / "bad",
        {
            "loans": "loan_id,borrower_id,currency,principal,interest,penalty,fees,"
            "status\nL7,P404,CNY,1.005,0,0,0,performing\n"
        },
    )
    refused = run(tmp_path, "import", str(bad))
    assert refused.returncode == 1
    assert "loans: row 1, column borrower_id: no parties row with ref P404" in refused.stderr
    assert "loans: row 1, column principal: more than 2 decimal places" in refused.stderr
    assert "nothing was written" in refused.stderr


def test_audit_checkpoint_and_verify_since(tmp_path: Path) -> None:
    assert run(tmp_path, "users", "add", "alice", "--role", "auditor", password="correct-horse").returncode == 0
    assert run(tmp_path, "users", "add", "bob", "--role", "auditor", password="correct-horse").returncode == 0
    printed = run(tmp_path, "audit", "checkpoint")
    assert printed.returncode == 0, printed.stderr
    checkpoint = printed.stdout.strip()
    assert checkpoint.startswith("2:")
    assert (tmp_path / "data" / ".audit_key").stat().st_mode & 0o777 == 0o600
    reached = run(tmp_path, "audit", "verify", "--since", checkpoint)
    assert reached.returncode == 0, reached.stderr
    assert "intact: 2 events, reaches checkpoint 2" in reached.stdout

    with sqlite3.connect(tmp_path / "cli.sqlite3") as db:
        db.execute("DELETE FROM audit_event WHERE seq = 2")
    assert run(tmp_path, "audit", "verify").returncode == 0  # a shorter chain is still a whole one
    truncated = run(tmp_path, "audit", "verify", "--since", checkpoint)
    assert truncated.returncode == 1
    assert "the newest events were removed" in truncated.stderr

    malformed = run(tmp_path, "audit", "verify", "--since", "2:nothex")
    assert malformed.returncode == 2
    assert "SEQ:HASH" in malformed.stderr


def test_backup_while_serving_restores_with_every_row(tmp_path: Path) -> None:
    from tests.integration.books import small

    assert run(tmp_path, "import", str(small.write(tmp_path / "book"))).returncode == 0
    target = tmp_path / "copies" / "registry-backup.sqlite3"
    target.parent.mkdir()
    with sqlite3.connect(tmp_path / "cli.sqlite3") as live:
        live.execute("PRAGMA journal_mode=WAL")  # as the server runs it: committed rows may sit in the WAL
        live.execute("BEGIN IMMEDIATE")  # and a writer holds the database while the backup is taken
        made = run(tmp_path, "backup", str(target))
        live.rollback()
        loans = live.execute("SELECT ref FROM loan ORDER BY ref").fetchall()
    assert made.returncode == 0, made.stderr
    assert "backup written to" in made.stdout
    with sqlite3.connect(target) as copy:
        assert (
            copy.execute("SELECT ref FROM loan ORDER BY ref").fetchall()
            == loans
            == [
                ("L1",),
                ("L2",),
                ("L3",),
                ("L4",),
            ]
        )
    # The copy is a database the service runs on: pointed at it, the audit chain verifies.
    env_copy = tmp_path / "restored"
    env_copy.mkdir()
    (env_copy / "cli.sqlite3").write_bytes(target.read_bytes())
    (env_copy / "data").mkdir()
    (env_copy / "data" / ".audit_key").write_text((tmp_path / "data" / ".audit_key").read_text())
    verified = run(env_copy, "audit", "verify")
    assert verified.returncode == 0, verified.stderr

    again = run(tmp_path, "backup", str(target))
    assert again.returncode == 1
    assert "exists" in again.stderr and "--force" in again.stderr
    assert run(tmp_path, "backup", str(target), "--force").returncode == 0
    itself = run(tmp_path, "backup", str(tmp_path / "cli.sqlite3"), "--force")
    assert itself.returncode == 1
    assert "the database itself" in itself.stderr
