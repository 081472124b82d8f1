"""The parties and loans files. A loan's balance columns become ledger postings: the import posts
the difference between the file's balance and the ledger's, so the ledger stays the only truth and
a re-import of the same balances posts nothing."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from registry.bulk import checks as c
from registry.bulk.book import BookFile, ImportContext, Reference
from registry.bulk.checks import ERRORS_SCHEMA, ROW
from registry.bulk.database import BulkDb
from registry.ledger_rules import BALANCE_COMPONENTS
from registry.schemas.loans import LOAN_STATUSES
from registry.schemas.parties import PARTY_KINDS

IMPORT_POSTING_KIND = "import_balance"


class PartiesFile(BookFile):
    name = "parties"
    tables = ("party",)
    columns = ("party_id", "name", "kind")
    sort_by = ("party_id",)
    staging = {"ref": "text", "name": "text", "kind": "text"}

    def checks(self) -> dict[str, pl.Expr]:
        return {
            "party_id": c.first_reason(c.ref("party_id"), c.duplicated("party_id", what="party_id")),
            "name": c.text("name", 255),
            "kind": c.one_of("kind", PARTY_KINDS),
        }

    async def prepare(self, ctx: ImportContext, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        return frame.select(pl.col("party_id").alias("ref"), "name", "kind"), pl.DataFrame(schema=ERRORS_SCHEMA)

    async def upsert(self, db: BulkDb, now: datetime, actor: str) -> dict[str, int]:
        on_conflict = db.conflict(
            "party",
            """ON CONFLICT (ref) DO UPDATE SET name = excluded.name, kind = excluded.kind
                WHERE party.name IS DISTINCT FROM excluded.name OR party.kind IS DISTINCT FROM excluded.kind""",
        )
        written = await db.execute(
            f"""INSERT INTO party (ref, name, kind, status, created_at)
                SELECT s.ref, s.name, s.kind, 'normal', {db.as_timestamp(db.param(1))}
                FROM {self.stage_table} s WHERE true
                {on_conflict}""",
            db.timestamp_param(now),
        )
        return {"written": written}

    async def load_fresh(self, db: BulkDb, frame: pl.DataFrame, now: datetime, actor: str) -> dict[str, int] | None:
        rows = await db.numbered("party", frame)
        written = await db.copy_frame(
            "party",
            rows.select("id", "ref", "name", "kind", status=pl.lit("normal"), created_at=pl.lit(now.isoformat())),
        )
        return {"written": written}

    async def export(self, db: BulkDb) -> pl.DataFrame:
        return await db.frame(
            "SELECT ref, name, kind FROM party", {"party_id": pl.String, "name": pl.String, "kind": pl.String}
        )


class LoansFile(BookFile):
    name = "loans"
    tables = ("loan", "posting")
    columns = ("loan_id", "borrower_id", "currency", *BALANCE_COMPONENTS, "status")
    sort_by = ("loan_id",)
    references = (Reference("borrower_id", "parties", "party"),)
    staging = {
        "ref": "text",
        "borrower_ref": "text",
        "currency": "text",
        "status": "text",
        **dict.fromkeys(BALANCE_COMPONENTS, "bigint"),
    }

    def checks(self) -> dict[str, pl.Expr]:
        digits = c.minor_digits(pl.col("currency"))
        return {
            "loan_id": c.first_reason(c.ref("loan_id"), c.duplicated("loan_id", what="loan_id")),
            "borrower_id": c.ref("borrower_id"),
            "currency": c.currency("currency"),
            "principal": c.amount("principal", digits, nullable=False),
            **{col: c.amount(col, digits) for col in BALANCE_COMPONENTS[1:]},
            "status": c.one_of("status", LOAN_STATUSES),
        }

    async def prepare(self, ctx: ImportContext, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        digits = c.minor_digits(pl.col("currency"))
        staged = frame.select(
            ROW,
            pl.col("loan_id").alias("ref"),
            pl.col("borrower_id").alias("borrower_ref"),
            "currency",
            "status",
            *(c.to_minor_units(col, digits).fill_null(0).alias(col) for col in BALANCE_COMPONENTS),
        )
        # Amounts already posted in one currency cannot be reread in another.
        changed: dict[str, str] = {}
        if not await ctx.db.is_empty("loan"):
            await ctx.db.stage("lookup_loans", staged.select("ref", "currency"), {"ref": "text", "currency": "text"})
            changed = {
                r[0]: r[1]
                for r in await ctx.db.fetch(
                    "SELECT l.ref, l.currency FROM loan l JOIN lookup_loans v ON v.ref = l.ref "
                    "WHERE l.currency <> v.currency"
                )
            }
        errors = staged.filter(pl.col("ref").is_in(list(changed))).select(
            pl.lit(self.name).alias("file"),
            pl.col(ROW).alias("row"),
            pl.lit("currency").alias("column"),
            pl.format(
                "loan {} is held in {}; its currency cannot change",
                pl.col("ref"),
                pl.col("ref").replace_strict(changed, default=""),
            ).alias("reason"),
        )
        return staged.drop(ROW), errors

    async def upsert(self, db: BulkDb, now: datetime, actor: str) -> dict[str, int]:
        stamp = db.as_timestamp(db.param(1))
        on_conflict = db.conflict(
            "loan",
            """ON CONFLICT (ref) DO UPDATE
                SET borrower = excluded.borrower, currency = excluded.currency, status = excluded.status
                WHERE loan.borrower IS DISTINCT FROM excluded.borrower
                   OR loan.currency IS DISTINCT FROM excluded.currency
                   OR loan.status IS DISTINCT FROM excluded.status""",
        )
        written = await db.execute(
            f"""INSERT INTO loan (ref, borrower, currency, status, classification, created_at)
                SELECT s.ref, p.id, s.currency, s.status, 'pass', {stamp}
                FROM {self.stage_table} s JOIN party p ON p.ref = s.borrower_ref WHERE true
                {on_conflict}""",
            db.timestamp_param(now),
        )
        delta = [f"s.{x} - COALESCE(b.{x}, 0)" for x in BALANCE_COMPONENTS]
        postings = await db.execute(
            f"""INSERT INTO posting (loan, kind, principal, interest, penalty, fees, value_date, memo, posted_by,
                                     posted_at)
                SELECT l.id, '{IMPORT_POSTING_KIND}', {", ".join(delta)}, {db.as_date(db.param(2))},
                       'balance set by bulk import', {db.param(3)}, {stamp}
                FROM {self.stage_table} s JOIN loan l ON l.ref = s.ref
                LEFT JOIN (SELECT loan, SUM(principal) AS principal, SUM(interest) AS interest,
                                  SUM(penalty) AS penalty, SUM(fees) AS fees
                           FROM posting GROUP BY loan) b ON b.loan = l.id
                WHERE {" OR ".join(f"({d}) <> 0" for d in delta)}""",
            db.timestamp_param(now),
            db.date_param(now.date()),
            actor,
        )
        return {"written": written, "balance_postings": postings}

    async def load_fresh(self, db: BulkDb, frame: pl.DataFrame, now: datetime, actor: str) -> dict[str, int] | None:
        borrowers = await db.ids_of("party", frame["borrower_ref"], "borrower")
        rows = (await db.numbered("loan", frame)).join(borrowers, on="borrower_ref")
        stamp = pl.lit(now.isoformat())
        written = await db.copy_frame(
            "loan",
            rows.select("id", "ref", "borrower", "currency", "status", classification=pl.lit("pass"), created_at=stamp),
        )
        # The ledger of a loan new to the registry is empty: its opening posting is the file's whole balance.
        opening = rows.filter(pl.any_horizontal(pl.col(x) != 0 for x in BALANCE_COMPONENTS))
        opening = opening.select(pl.col("id").alias("loan"), *BALANCE_COMPONENTS)
        opening = await db.numbered("posting", opening)
        postings = await db.copy_frame(
            "posting",
            opening.select(
                "id",
                "loan",
                *BALANCE_COMPONENTS,
                kind=pl.lit(IMPORT_POSTING_KIND),
                value_date=pl.lit(now.date().isoformat()),
                memo=pl.lit("balance set by bulk import"),
                posted_by=pl.lit(actor),
                posted_at=stamp,
            ),
        )
        return {"written": written, "balance_postings": postings}

    async def export(self, db: BulkDb) -> pl.DataFrame:
        raw = await db.frame(
            """SELECT l.ref, p.ref, l.currency, COALESCE(SUM(po.principal), 0), COALESCE(SUM(po.interest), 0),
                      COALESCE(SUM(po.penalty), 0), COALESCE(SUM(po.fees), 0), l.status
               FROM loan l JOIN party p ON p.id = l.borrower LEFT JOIN posting po ON po.loan = l.id
               GROUP BY l.id, l.ref, p.ref, l.currency, l.status""",
            {
                "loan_id": pl.String,
                "borrower_id": pl.String,
                "currency": pl.String,
                **dict.fromkeys(BALANCE_COMPONENTS, pl.Int64),
                "status": pl.String,
            },
        )
        digits = c.minor_digits(pl.col("currency"))
        return raw.with_columns(c.format_units(pl.col(x), digits).alias(x) for x in BALANCE_COMPONENTS)
