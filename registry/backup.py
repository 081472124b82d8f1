"""`collateral backup FILE`: a consistent copy of the database taken while the service runs.

SQLite: the online backup API, page by page into a new file, consistent even while writers commit.
PostgreSQL: pg_dump in its custom format (restore with pg_restore), itself one consistent snapshot.
Either way the copy is written beside FILE and renamed onto it when complete, so a failed backup
never leaves a half-written FILE. The audit key, the token secret and the stored documents live
outside the database (the data dir or the environment) and are not in the copy."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from registry.config import Settings

PG_DUMP_SETTING = "COLLATERAL_PG_DUMP"


class BackupError(Exception):
    """The backup was not made; the message says why."""


def backup(settings: Settings, target: Path, *, overwrite: bool = False) -> str:
    """Copy the configured database to `target`; a line describing what was written."""
    target = target.expanduser().resolve()
    if target.exists() and not overwrite:
        raise BackupError(f"{target} exists; choose a new file or pass --force to replace it")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent} is not a directory")
    partial = target.with_name(f".{target.name}.partial")
    try:
        if settings.is_sqlite:
            _sqlite(settings.sqlite_path.expanduser().resolve(), target, partial)
        else:
            _postgres(settings.database_url, partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    kind = "SQLite database" if settings.is_sqlite else "pg_dump custom-format archive (restore with pg_restore)"
    return f"backup written to {target}: {kind}, {target.stat().st_size:,} bytes"


def _sqlite(source: Path, target: Path, partial: Path) -> None:
    if source == target:
        raise BackupError(f"{target} is the database itself")
    if not source.exists():
        raise BackupError(f"no database at {source}")
    partial.unlink(missing_ok=True)
    with closing(sqlite3.connect(source)) as live, closing(sqlite3.connect(partial)) as copy:
        live.backup(copy)


def _postgres(database_url: str, partial: Path) -> None:
    pg_dump = shutil.which(os.environ.get(PG_DUMP_SETTING, "pg_dump"))
    if pg_dump is None:
        raise BackupError(
            "pg_dump not found: install the PostgreSQL client tools (the server's major version or newer) "
            f"or name the program in {PG_DUMP_SETTING}"
        )
    # The password goes by the environment, not the command line, where any local user could read it.
    parts = urlsplit(database_url)
    env = dict(os.environ)
    if parts.password is not None:
        env["PGPASSWORD"] = unquote(parts.password)
        netloc = parts.netloc.rsplit("@", 1)
        user = netloc[0].split(":", 1)[0]
        parts = parts._replace(netloc=f"{user}@{netloc[1]}")
    done = subprocess.run(  # noqa: S603 - the program is pg_dump, the arguments ours
        [pg_dump, "--format=custom", f"--file={partial}", f"--dbname={urlunsplit(parts)}"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed ({done.returncode}): {done.stderr.strip()}")
