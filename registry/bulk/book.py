"""What a file of the book is: its columns, checks, references, staging shape, upsert and export."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from registry.bulk.checks import ERRORS_SCHEMA
from registry.bulk.database import BulkDb


@dataclass(frozen=True, slots=True)
class Reference:
    """`column` names a row of `target` (a book file), stored in `table`.`ref`."""

    column: str
    target: str
    table: str


@dataclass(slots=True)
class ImportContext:
    """What one file's preparation may look at: every file's checked rows, and the database."""

    db: BulkDb
    actor: str
    now: datetime
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)  # rows that passed their checks, by file
    keys: dict[str, pl.Series] = field(default_factory=dict)  # every ref each imported file names
    loaded: dict[str, pl.DataFrame] = field(default_factory=dict)  # every row as read, errors or not


class BookFile:
    """One of the seven files. Subclasses give the columns and the four steps."""

    name: str
    columns: tuple[str, ...]
    optional_columns: tuple[str, ...] = ()  # may be absent from a file (then all nulls); exported after columns
    sort_by: tuple[str, ...]
    references: tuple[Reference, ...] = ()
    staging: dict[str, str]
    tables: tuple[str, ...] = ()  # the tables the upsert writes

    def checks(self) -> dict[str, pl.Expr]:
        """Per-column checks on the all-string frame (pure, vectorised)."""
        raise NotImplementedError

    def derived(self) -> dict[str, pl.Expr]:
        """Columns computed once before the checks, which may read them (a timestamp parsed once, say)."""
        return {}

    async def prepare(self, ctx: ImportContext, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The staging frame for checked rows, and any errors that need other files or the database."""
        return frame, pl.DataFrame(schema=ERRORS_SCHEMA)

    async def upsert(self, db: BulkDb, now: datetime, actor: str) -> dict[str, int]:
        """Move the staged rows into the real tables; counts, with "written" the rows inserted or changed."""
        raise NotImplementedError

    async def load_fresh(self, db: BulkDb, frame: pl.DataFrame, now: datetime, actor: str) -> dict[str, int] | None:
        """Write the prepared rows with COPY straight into the file's tables, when every one of them was empty
        before the import (`db.fresh`, PostgreSQL only), with the same rows and counts as `upsert` would give;
        None when the file has no such path (then it is staged and upserted). The checks, references and
        cross-file rules were all met before this, and the keys and foreign keys dropped for the load are
        rebuilt after it, so the database re-checks them."""
        return None

    async def export(self, db: BulkDb) -> pl.DataFrame:
        """The file's rows from the database, as strings, sorted by `sort_by`."""
        raise NotImplementedError

    @property
    def stage_table(self) -> str:
        return f"stage_{self.name}"
