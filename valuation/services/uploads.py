"""Bulk valuation upload: an appraiser's file of new valuations, entered as submitted, all or nothing.

The file is read as trimmed text (CSV or Parquet, via the book readers), checked with the same
vectorised Polars checks as the book import, its asset refs and natural keys resolved against the
database in set-based queries, and written with one INSERT ... SELECT from a staging table. Four
eyes still apply: every uploaded valuation waits in the approval queue like one entered by hand."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import anyio
import polars as pl

from registry import audit, clock
from registry.bulk import checks as c
from registry.bulk.checks import ERRORS_SCHEMA, ROW, collect_errors
from registry.bulk.database import BulkDb
from registry.bulk.files import FORMATS, read_book_file
from registry.bulk.limits import upload_limits
from registry.bulk.pipeline import ImportRefused
from registry.db import no_statement_timeout, write_transaction
from registry.errors import InvalidInputError
from valuation.bulk_files import METHODS
from valuation.schemas import UploadResult

COLUMNS = ("asset_id", "valued_on", "market_value", "currency", "method", "appraiser")
STAGING = {
    "asset_ref": "text",
    "valued_on": "text",
    "market_value": "bigint",
    "currency": "text",
    "method": "text",
    "appraiser": "text",
}
STAGE_TABLE = "stage_valuation_upload"


def _checks(today: date) -> dict[str, pl.Expr]:
    digits = c.minor_digits(pl.col("currency"))
    return {
        "asset_id": c.ref("asset_id"),
        "valued_on": c.first_reason(
            c.date("valued_on"),
            c.reason_if(
                c.parse_date("valued_on") > pl.lit(today), pl.format("{} is in the future", pl.col("valued_on"))
            ),
            c.duplicated("asset_id", "valued_on", "method", what="valuation of this asset on this date by this method"),
        ),
        "market_value": c.amount("market_value", digits, nullable=False),
        "currency": c.currency("currency"),
        "method": c.one_of("method", METHODS),
        "appraiser": c.text("appraiser", 255),
    }


def _errors(file: str, rows: pl.DataFrame, column: str, reason: pl.Expr) -> pl.DataFrame:
    return rows.select(
        pl.lit(file).alias("file"), pl.col(ROW).alias("row"), pl.lit(column).alias("column"), reason.alias("reason")
    )


async def _database_errors(
    db: BulkDb, file: str, loaded: pl.DataFrame, checked: pl.DataFrame, cell_errors: pl.DataFrame
) -> pl.DataFrame:
    """Unknown asset refs (on every row with a well-formed ref) and valuations that already exist."""
    malformed = cell_errors.filter(pl.col("column") == "asset_id")["row"].implode()
    wanted = loaded.select(ROW, "asset_id").drop_nulls("asset_id").filter(~pl.col(ROW).is_in(malformed))
    await db.stage_values("upload_asset_refs", wanted["asset_id"].unique().to_list())
    found = [r[0] for r in await db.fetch("SELECT a.ref FROM asset a JOIN upload_asset_refs v ON v.value = a.ref")]
    unknown = _errors(
        file,
        wanted.filter(~pl.col("asset_id").is_in(found)),
        "asset_id",
        pl.format("no asset with ref {}", pl.col("asset_id")),
    )
    await db.stage(
        "upload_keys",
        checked.select(ROW, pl.col("asset_id").alias("asset_ref"), "valued_on", "method"),
        {ROW: "bigint", "asset_ref": "text", "valued_on": "text", "method": "text"},
    )
    taken = await db.fetch(
        f"""SELECT k.{ROW}, v.id, v.status FROM upload_keys k
            JOIN asset a ON a.ref = k.asset_ref
            JOIN valuation v ON v.asset = a.id AND v.valued_on = {db.as_date("k.valued_on")} AND v.method = k.method"""  # noqa: S608
    )
    existing = c.error_frame(
        (
            file,
            int(row),
            "valued_on",
            f"this asset already has a valuation on this date by this method (id {vid}, {status})",
        )
        for row, vid, status in taken
    )
    return pl.concat([unknown, existing])


def upload_suffix(filename: str) -> str:
    """The format the file's name gives (csv or parquet); any other name is refused."""
    name = Path(filename).name
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise InvalidInputError.one("file", f"attach the valuations as a .csv or .parquet file, not {name!r}")
    return suffix


def _read_and_check(name: str, path: Path, today: date) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, str]:
    """The file's trimmed rows, their cell errors, the rows without any and its sha256 (blocking Polars work)."""
    book_file, header_errors = read_book_file(name, path, COLUMNS, limits=upload_limits())
    if book_file is None:
        raise ImportRefused(header_errors)
    # Cells are trimmed text (docs/decisions.md, bulk import): " A2 " names asset A2.
    loaded = book_file.frame.with_columns(pl.col(column).str.strip_chars() for column in COLUMNS)
    if loaded.is_empty():
        raise ImportRefused(c.error_frame([(name, 0, "", "the file has no rows")]))
    cell_errors = collect_errors(name, loaded, _checks(today))
    # Dates leave in one spelling, so the database compares and stores them as it does its own.
    checked = loaded.filter(~pl.col(ROW).is_in(cell_errors["row"].implode())).with_columns(
        c.parse_date("valued_on").dt.to_string("%Y-%m-%d").alias("valued_on")
    )
    return loaded, cell_errors, checked, book_file.sha256


async def upload_valuations(filename: str, path: Path, actor: str) -> UploadResult:
    """Create one submitted valuation per row of the file at `path`, or nothing; ImportRefused lists every bad
    cell, UploadTooLargeError refuses a file over the upload bounds."""
    name = Path(filename).name
    upload_suffix(name)
    now = clock.now()
    # Parsing a large file takes seconds: in a worker thread, off the event loop.
    loaded, cell_errors, checked, sha256 = await anyio.to_thread.run_sync(_read_and_check, name, path, now.date())
    digits = c.minor_digits(pl.col("currency"))
    async with write_transaction():
        await no_statement_timeout()
        db = BulkDb.of_current_transaction()
        db_errors = await _database_errors(db, name, loaded, checked, cell_errors)
        errors = pl.concat([cell_errors, db_errors], how="vertical").sort("row", "column")
        if errors.height:
            await db.drop_staging()
            raise ImportRefused(errors.select(list(ERRORS_SCHEMA)))
        staged = checked.select(
            pl.col("asset_id").alias("asset_ref"),
            "valued_on",
            c.to_minor_units("market_value", digits).alias("market_value"),
            "currency",
            "method",
            "appraiser",
        )
        await db.stage(STAGE_TABLE, staged, STAGING)
        created = await db.execute(
            f"""INSERT INTO valuation (asset, valued_on, market_value, forced_sale_value, currency, method,
                                       appraiser, status, submitted_by, submitted_at, decided_by, decided_at, reason)
                SELECT a.id, {db.as_date("s.valued_on")}, s.market_value, NULL, s.currency, s.method, s.appraiser,
                       'submitted', {db.as_text(db.param(2))}, {db.as_timestamp(db.param(1))}, NULL, NULL, ''
                FROM {STAGE_TABLE} s JOIN asset a ON a.ref = s.asset_ref""",  # noqa: S608 - our own table names
            db.timestamp_param(now),
            actor,
        )
        await db.drop_staging()
        result = UploadResult(file=name, rows=loaded.height, created=created, sha256=sha256)
        await audit.record(
            actor,
            "valuation_upload",
            sha256[:16],
            "upload",
            after={"file": name, "rows": loaded.height, "created": created, "sha256": sha256},
        )
    return result
