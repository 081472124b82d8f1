"""Where the coverage engine's frames come from: the database, or a folder of book files.

`book_from_database` reads the book with Polars' Arrow-native reader (`pl.read_database_uri`, connectorx)
straight into frames keyed by the database ids. It opens its own connection, outside Piccolo's pool and
transactions, so it sees committed rows only, and it blocks: async callers run it with
`anyio.to_thread.run_sync`. `book_from_directory` reads the DESIGN 8 files with the import's readers
and keys them by row (no database). Both give `valuation.coverage.BookFrames`, the engine's contract.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl

from registry.bulk import checks as c
from registry.bulk.files import find_book_files, read_book_file
from registry.config import get_settings
from registry.downloads import csv_safe_frame
from registry.ledger_rules import BALANCE_COMPONENTS
from valuation.coverage import BookFrames, CoverageInputError
from valuation.coverage import refs as coverage_refs

# The book files the engine reads, with the columns of DESIGN 8.
# Columns a book file may carry that the computation does not read (a lien's currency follows its loans').
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {"liens": ("currency",)}
BOOK_COLUMNS: dict[str, tuple[str, ...]] = {
    "loans": ("loan_id", "borrower_id", "currency", *BALANCE_COMPONENTS, "status"),
    "assets": ("asset_id", "kind", "owner_id", "description"),
    "policies": ("kind", "haircut", "revaluation_days", "max_ltv"),
    "valuations": ("asset_id", "valued_on", "market_value", "currency", "method", "status"),
    "liens": ("lien_id", "asset_id", "kind", "holder", "status", "perfected_at", "cap", "external_claim"),
    "lien_loans": ("lien_id", "loan_id"),
}


def database_uri(database_url: str | None = None) -> str:
    """The connectorx URI of the configured database: `sqlite://` + an absolute path (four slashes), or
    the PostgreSQL DSN as it is."""
    url = database_url or get_settings().database_url
    if url.startswith("sqlite:"):
        path = Path(url.removeprefix("sqlite:///").removeprefix("sqlite://")).expanduser().resolve()
        return f"sqlite:///{path.as_posix()}"  # four slashes: the form both connectorx and ADBC read
    return url


def _blank_to_null(column: str) -> pl.Expr:
    return pl.when(pl.col(column) == "").then(None).otherwise(pl.col(column)).alias(column)


def _sqlite_text(expr: str) -> str:
    # SQLite keeps dates and timestamps as text, and connectorx cannot type a column whose first value is
    # null when its declared type (TIMESTAMPTZ) is not one it knows: read text, '' for null.
    return f"COALESCE(CAST({expr} AS TEXT), '')"


def book_from_database(database_url: str | None = None) -> BookFrames:
    """The whole book as the engine reads it, keyed by loan.id, asset.id and lien.id. Blocking.

    Valuations are the approved ones only: the engine reads no other (steps.latest_valuations)."""
    uri = database_uri(database_url)
    if not uri.startswith("sqlite:"):
        return _postgres_book(uri)

    def read(query: str) -> pl.DataFrame:
        return pl.read_database_uri(query, uri, engine="connectorx")

    # COALESCE: SQLite infers an expression's type from its values, and a first row's null it cannot type.
    balances = ", ".join(f"CAST(COALESCE(SUM(p.{x}), 0) AS BIGINT) AS {x}" for x in BALANCE_COMPONENTS)
    loans = read(
        f"""SELECT l.id AS loan_key, l.ref AS loan_id, b.ref AS borrower_id, l.currency, {balances}, l.status
            FROM loan l JOIN party b ON b.id = l.borrower LEFT JOIN posting p ON p.loan = l.id
            GROUP BY l.id, l.ref, b.ref, l.currency, l.status ORDER BY l.id"""  # noqa: S608 - only our own column expressions are interpolated
    )
    assets = read("SELECT id AS asset_key, ref AS asset_id, kind, status FROM asset ORDER BY id")
    valuations = read(
        f"""SELECT asset AS asset_key, {_sqlite_text("valued_on")} AS valued_on, market_value, currency, status
            FROM valuation WHERE status = 'approved' ORDER BY id"""  # noqa: S608 - only our own column expressions are interpolated
    )
    liens = read(
        f"""SELECT id AS lien_key, ref AS lien_id, asset AS asset_key, holder, status,
                   {_sqlite_text("perfected_at")} AS perfected_at, cap, external_claim,
                   {_sqlite_text("expires_on")} AS expires_on, currency
            FROM lien ORDER BY id"""  # noqa: S608 - only our own column expressions are interpolated
    )
    valuations = valuations.with_columns(_blank_to_null("valued_on").cast(pl.String))
    liens = liens.with_columns(
        _blank_to_null("perfected_at").cast(pl.String), _blank_to_null("expires_on").cast(pl.String)
    )
    return _book(
        loans=loans,
        assets=assets,
        valuations=valuations.with_columns(c.parse_date("valued_on").alias("valued_on")),
        policies=read(POLICIES_SQL),
        liens=liens.with_columns(
            c.parse_timestamp("perfected_at").cast(pl.Datetime("us", "UTC")).alias("perfected_at"),
            c.parse_date("expires_on").alias("expires_on"),
        ),
        lien_loans=read("SELECT lien AS lien_key, loan AS loan_key FROM lien_loan ORDER BY id"),
        double=read(DOUBLE_PLEDGE_SQL),
    )


POLICIES_SQL = "SELECT kind, haircut, revaluation_days, max_ltv FROM policy ORDER BY kind"
DOUBLE_PLEDGE_SQL = (
    "SELECT asset_a AS asset_key FROM parcel_overlap UNION SELECT asset_b AS asset_key FROM parcel_overlap"
)


def _book(
    *,
    loans: pl.DataFrame,
    assets: pl.DataFrame,
    valuations: pl.DataFrame,
    policies: pl.DataFrame,
    liens: pl.DataFrame,
    lien_loans: pl.DataFrame,
    double: pl.DataFrame,
) -> BookFrames:
    policies = policies.with_columns(
        pl.col("haircut").cast(pl.String).str.strip_chars().cast(pl.Decimal(38, 12)),
        pl.col("max_ltv").cast(pl.String).str.strip_chars().cast(pl.Decimal(38, 12)),
        pl.col("revaluation_days").cast(pl.Int64),
    )
    return BookFrames(
        loans=loans.lazy(),
        assets=assets.lazy(),
        valuations=valuations.lazy(),
        policies=policies.lazy(),
        liens=liens.lazy(),
        lien_loans=lien_loans.lazy(),
        double_pledge_assets=double.lazy(),
    ).conformed()


# PostgreSQL: one query per table whose single row carries each column whole, so that a million-row table
# crosses as a few large values (connectorx decodes them at memory speed; row by row it spends about a
# microsecond a row, seconds per table). Integers and dates come as arrays (dates as days since 1970),
# texts as one string joined by a unit separator, timestamps as their 8-byte binary form
# (timestamptz_send: microseconds since 2000, big-endian; a null as INT64_MIN). Every column is checked
# against the table's row count (a separator inside a text, a null text, a stored -infinity or +infinity)
# and a table that fails a check is read again row by row. The tables are read on three connections at
# once; ids come along and the rows are put in id order here if the server returned them otherwise.
_SEP = "\x1f"
_NULL_INSTANT = -(2**63)
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in microseconds since 1970-01-01
_PACKED_READERS = 3


class _Table:
    """One table's packed read: (name, kind, column) with kind int, text, date or instant."""

    def __init__(self, table: str, columns: tuple[tuple[str, str, str], ...], order: str, where: str = "") -> None:
        self.table, self.columns, self.order, self.where = table, columns, order, where

    def packed_sql(self) -> str:
        parts = ["count(*) AS _n"]
        for name, kind, column in self.columns:
            if kind == "int":
                parts.append(f"array_agg({column}) AS {name}")
            elif kind == "date":
                parts.append(f"array_agg({column} - DATE '1970-01-01') AS {name}")
            elif kind == "text":
                parts.append(f"string_agg({column}, E'\\x1f') AS {name}, count({column}) AS _n_{name}")
            else:
                parts.append(
                    f"string_agg(COALESCE(timestamptz_send({column}), '\\x8000000000000000'::bytea), "
                    f"''::bytea) AS {name}, count({column}) AS _n_{name}"
                )
        return f"SELECT {', '.join(parts)} FROM {self.table}{self.where}"  # noqa: S608 - our own names only

    def rows_sql(self) -> str:
        names = ", ".join(f"{column} AS {name}" for name, _, column in self.columns)
        return f"SELECT {names} FROM {self.table}{self.where} ORDER BY {self.order}"  # noqa: S608 - our own names

    def unpack(self, packed: pl.DataFrame) -> pl.DataFrame | None:
        """The table's rows from its packed row; None when a check fails."""
        n = int(packed["_n"][0])
        columns: list[pl.Series] = []
        for name, kind, _ in self.columns:
            if n == 0:
                dtype = {"int": pl.Int64, "text": pl.String, "date": pl.Date}.get(kind, pl.Datetime("us", "UTC"))
                columns.append(pl.Series(name, [], dtype=dtype))
                continue
            if kind == "text":
                if int(packed[f"_n_{name}"][0]) != n:
                    return None
                column = packed[name].str.split(_SEP).explode()
            elif kind == "instant":
                instants = _instants(name, packed[name][0], n, int(packed[f"_n_{name}"][0]))
                if instants is None:
                    return None
                column = instants
            else:
                column = packed[name].explode()
                if kind == "date":
                    column = column.cast(pl.Int32).cast(pl.Date)
            if len(column) != n:
                return None
            columns.append(column.alias(name))
        frame = pl.DataFrame(columns)
        return frame if frame.is_empty() or frame[self.order].is_sorted() else frame.sort(self.order)


def _instants(name: str, blob: bytes | None, n: int, non_null: int) -> pl.Series | None:
    raw = np.frombuffer(blob or b"", dtype=">i8")
    if len(raw) != n:
        return None
    values = pl.Series(name, raw.astype(np.int64))
    null = values == _NULL_INSTANT
    if int((~null).sum()) != non_null or (non_null and int(values.filter(~null).max()) >= 2**63 - _PG_EPOCH_US):  # type: ignore[arg-type]
        return None  # a stored -infinity or +infinity: read row by row
    return pl.select(pl.when(~null).then(values + _PG_EPOCH_US).cast(pl.Datetime("us", "UTC")).alias(name)).to_series()


_PG_TABLES = {
    "loans": _Table(
        "loan",
        (
            ("loan_key", "int", "id"),
            ("loan_id", "text", "ref"),
            ("borrower", "int", "borrower"),
            ("currency", "text", "currency"),
            ("status", "text", "status"),
        ),
        "loan_key",
    ),
    "parties": _Table("party", (("borrower", "int", "id"), ("borrower_id", "text", "ref")), "borrower"),
    "postings": _Table(
        "posting", (("loan_key", "int", "loan"), *((m, "int", m) for m in BALANCE_COMPONENTS)), "loan_key"
    ),
    "assets": _Table(
        "asset",
        (
            ("asset_key", "int", "id"),
            ("asset_id", "text", "ref"),
            ("kind", "text", "kind"),
            ("status", "text", "status"),
        ),
        "asset_key",
    ),
    "valuations": _Table(
        "valuation",
        (
            ("_id", "int", "id"),
            ("asset_key", "int", "asset"),
            ("valued_on", "date", "valued_on"),
            ("market_value", "int", "market_value"),
            ("currency", "text", "currency"),
        ),
        "_id",
        " WHERE status = 'approved'",
    ),
    "liens": _Table(
        "lien",
        (
            ("lien_key", "int", "id"),
            ("lien_id", "text", "ref"),
            ("asset_key", "int", "asset"),
            ("holder", "text", "holder"),
            ("status", "text", "status"),
            ("perfected_at", "instant", "perfected_at"),
            ("cap", "int", "cap"),
            ("external_claim", "int", "external_claim"),
            ("expires_on", "date", "expires_on"),
            ("currency", "text", "currency"),
        ),
        "lien_key",
    ),
    "lien_loans": _Table(
        "lien_loan", (("_id", "int", "id"), ("lien_key", "int", "lien"), ("loan_key", "int", "loan")), "_id"
    ),
}


def _postgres_book(uri: str) -> BookFrames:
    def read(query: str) -> pl.DataFrame:
        return pl.read_database_uri(query, uri, engine="connectorx")

    def table(name: str) -> pl.DataFrame:
        spec = _PG_TABLES[name]
        frame = spec.unpack(read(spec.packed_sql()))
        if frame is None:
            frame = read(spec.rows_sql())
        return frame

    # The largest first, so that the three connections finish together.
    with ThreadPoolExecutor(max_workers=_PACKED_READERS) as pool:
        reads = {
            name: pool.submit(table, name)
            for name in ("liens", "valuations", "lien_loans", "assets", "loans", "postings", "parties")
        }
        policies, double = pool.submit(read, POLICIES_SQL), pool.submit(read, DOUBLE_PLEDGE_SQL)
        frames = {name: future.result() for name, future in reads.items()}
    balances = frames["postings"].group_by("loan_key").agg(pl.col(m).cast(pl.Int128).sum() for m in BALANCE_COMPONENTS)
    loans = (
        frames["loans"]
        .join(frames["parties"], on="borrower", how="inner", maintain_order="left")
        .join(balances, on="loan_key", how="left", maintain_order="left")
        .select(
            "loan_key",
            "loan_id",
            "borrower_id",
            "currency",
            *(pl.col(m).fill_null(0).cast(pl.Int64) for m in BALANCE_COMPONENTS),
            "status",
        )  # strict: no wrap
    )
    liens = frames["liens"]
    return _book(
        loans=loans,
        assets=frames["assets"],
        valuations=frames["valuations"].drop("_id").with_columns(pl.lit("approved").alias("status")),
        policies=policies.result(),
        liens=liens.with_columns(
            pl.col("perfected_at").cast(pl.Datetime("us", "UTC")), pl.col("expires_on").cast(pl.Date)
        ),
        lien_loans=frames["lien_loans"].drop("_id"),
        double=double.result(),
    )


def book_from_directory(directory: Path) -> BookFrames:
    """The book from a folder of DESIGN 8 files (CSV or Parquet), no database. The files are taken to have
    passed the import's checks; an unreadable file or a wrong header raises CoverageInputError. Missing
    files are empty; parcel overlaps are not in the files, so no asset is a possible double pledge."""
    if not directory.is_dir():
        raise CoverageInputError(f"{directory} is not a directory")
    paths, problems = find_book_files(directory, BOOK_COLUMNS)
    errors = [problems]
    frames: dict[str, pl.LazyFrame] = {}
    for name, columns in BOOK_COLUMNS.items():
        if name not in paths:
            frames[name] = pl.LazyFrame(schema=dict.fromkeys(columns, pl.String))
            continue
        optional = OPTIONAL_COLUMNS.get(name, ())
        loaded, header_errors = read_book_file(name, paths[name], columns, optional)
        errors.append(header_errors)
        if loaded is not None:
            frames[name] = loaded.frame.drop(c.ROW, *optional).lazy()
    shown = pl.concat(errors)
    if shown.height:
        listed = "; ".join(f"{r['file']}: {r['column'] or 'file'}: {r['reason']}" for r in shown.head(20).to_dicts())
        raise CoverageInputError(f"cannot read the book in {directory}: {listed}")
    if "loans" not in paths:
        raise CoverageInputError(f"no loans file (loans.csv or loans.parquet) in {directory}")
    assets = frames["assets"].select("asset_id", "kind")  # status: active (key_book's default)
    book = coverage_refs.parse_text_book(
        loans=frames["loans"],
        assets=assets,
        valuations=frames["valuations"],
        policies=frames["policies"],
        liens=frames["liens"],
        lien_loans=frames["lien_loans"],
    )
    return coverage_refs.key_book(book)


# The coverage export (DESIGN 8), in this order.
EXPORT_COLUMNS = (
    "loan_id",
    "borrower_id",
    "currency",
    "exposure",
    "collateral_value",
    "covered",
    "uncovered",
    "coverage_ratio",
    "ltv",
    "max_ltv",
    "breach",
    "stale_valuation",
    "no_valuation",
    "unperfected",
)
MONEY_COLUMNS = ("exposure", "collateral_value", "covered", "uncovered")
RATIO_PLACES = 6
_RATIO_SCALE = 10**RATIO_PLACES
_WIDE = pl.Int128


def money_text(column: str, currency: pl.Expr) -> pl.Expr:
    """Integer minor units to the decimal string of the currency ("1234.50", "1000" for JPY)."""
    return c.format_units(pl.col(column), c.minor_digits(currency)).alias(column)


def _scaled_text(scaled: pl.Expr) -> pl.Expr:
    return c.format_units(scaled, pl.lit(RATIO_PLACES, pl.Int64))


def exact_ratio_text(numerator: str, denominator: str) -> pl.Expr:
    """numerator / denominator to RATIO_PLACES decimals, rounded half up, exactly on integers (Int128);
    null when the denominator is not positive."""
    num, den = pl.col(numerator).cast(_WIDE), pl.col(denominator).cast(_WIDE)
    scaled = (num * (2 * _RATIO_SCALE) + den) // (den * 2)
    return pl.when(den > 0).then(_scaled_text(scaled))


def float_ratio_text(column: str) -> pl.Expr:
    """A display ratio (Float64) to RATIO_PLACES decimals; null stays null."""
    scaled = (pl.col(column) * _RATIO_SCALE).round(0).cast(_WIDE)
    return pl.when(pl.col(column).is_not_null()).then(_scaled_text(scaled))


def coverage_export_frame(per_loan: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
    """The engine's per-loan frame as the DESIGN 8 export: exactly EXPORT_COLUMNS, amounts as decimal
    strings in the loan currency's minor digits, ratios as decimal strings with six places (coverage_ratio
    and ltv computed exactly from the amounts, max_ltv rounded from the engine's display value; null when
    undefined), flags as booleans (true/false in CSV and JSON), rows by loan_id."""
    frame = per_loan.lazy()
    return (
        frame.select(
            "loan_id",
            "borrower_id",
            "currency",
            *(money_text(m, pl.col("currency")) for m in MONEY_COLUMNS),
            # Null exactly where the engine's display value is null (no exposure, no collateral).
            pl.when(pl.col("coverage_ratio").is_not_null())
            .then(exact_ratio_text("collateral_value", "exposure"))
            .alias("coverage_ratio"),
            pl.when(pl.col("ltv").is_not_null()).then(exact_ratio_text("exposure", "collateral_value")).alias("ltv"),
            float_ratio_text("max_ltv").alias("max_ltv"),
            *(pl.col(f).cast(pl.Boolean) for f in ("breach", "stale_valuation", "no_valuation", "unperfected")),
        )
        .sort("loan_id")
        .collect()
    )


def write_export(frame: pl.DataFrame, path: Path) -> None:
    """Write the export by the file's suffix: .csv, .parquet, or .json (a list of objects)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        csv_safe_frame(frame).write_csv(path)
    elif suffix == ".parquet":
        frame.write_parquet(path)
    elif suffix == ".json":
        frame.write_json(path)
    else:
        raise CoverageInputError(f"{path.name}: the output must end in .csv, .parquet or .json")
