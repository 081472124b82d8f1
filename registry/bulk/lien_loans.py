"""The lien_loans file: which of our loans each own lien secures. The file lists each named lien's whole set."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from registry.bulk import checks as c
from registry.bulk.book import BookFile, ImportContext, Reference
from registry.bulk.checks import ROW
from registry.bulk.collateral import _errors, _fill_from_db
from registry.bulk.database import BulkDb


class LienLoansFile(BookFile):
    name = "lien_loans"
    tables = ("lien_loan",)
    columns = ("lien_id", "loan_id")
    sort_by = ("lien_id", "loan_id")
    references = (Reference("lien_id", "liens", "lien"), Reference("loan_id", "loans", "loan"))
    staging = {"lien_ref": "text", "loan_ref": "text"}

    def checks(self) -> dict[str, pl.Expr]:
        return {
            "lien_id": c.ref("lien_id"),
            "loan_id": c.first_reason(c.ref("loan_id"), c.duplicated("lien_id", "loan_id", what="lien and loan pair")),
        }

    async def prepare(self, ctx: ImportContext, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        # Judged on every lien row of the import, so a lien with errors of its own still counts as not ours.
        liens = ctx.loaded.get("liens", pl.DataFrame(schema={"lien_id": pl.String, "holder": pl.String}))
        liens = liens.select("lien_id", "holder").unique("lien_id", keep="first")
        holders = frame.select(ROW, "lien_id").join(liens, on="lien_id", how="left")
        holders = await _fill_from_db(ctx, holders, "lien_id", "holder", "lien")
        others = holders.filter(pl.col("holder").is_not_null() & (pl.col("holder") != "own"))
        errors = _errors(
            self.name,
            others,
            "lien_id",
            pl.format("lien {} is held by {}; only own liens secure our loans", pl.col("lien_id"), pl.col("holder")),
        )
        return frame.select(pl.col("lien_id").alias("lien_ref"), pl.col("loan_id").alias("loan_ref")), errors

    async def upsert(self, db: BulkDb, now: datetime, actor: str) -> dict[str, int]:
        # The file lists each named lien's whole set of secured loans: pairs it no longer lists go.
        await db.execute("DROP TABLE IF EXISTS stage_pairs")
        await db.execute(f"""CREATE TEMPORARY TABLE stage_pairs AS
                             SELECT l.id AS lien, n.id AS loan FROM {self.stage_table} s
                             JOIN lien l ON l.ref = s.lien_ref JOIN loan n ON n.ref = s.loan_ref""")
        db.track("stage_pairs")
        await db.execute("CREATE INDEX stage_pairs_pair ON stage_pairs (lien, loan)")
        # Anti-joins, not NOT IN over a subquery, which PostgreSQL runs row by row on large books.
        removed = await db.execute(
            """DELETE FROM lien_loan
               WHERE EXISTS (SELECT 1 FROM stage_pairs p WHERE p.lien = lien_loan.lien)
                 AND NOT EXISTS (SELECT 1 FROM stage_pairs p
                                 WHERE p.lien = lien_loan.lien AND p.loan = lien_loan.loan)"""
        )
        on_conflict = db.conflict("lien_loan", "ON CONFLICT (lien, loan) DO NOTHING")
        added = await db.execute(
            f"INSERT INTO lien_loan (lien, loan) SELECT lien, loan FROM stage_pairs WHERE true {on_conflict}"
        )
        return {"written": added + removed, "removed": removed}

    async def load_fresh(self, db: BulkDb, frame: pl.DataFrame, now: datetime, actor: str) -> dict[str, int] | None:
        liens = await db.ids_of("lien", frame["lien_ref"], "lien")
        loans = await db.ids_of("loan", frame["loan_ref"], "loan")
        pairs = frame.join(liens, on="lien_ref").join(loans, on="loan_ref").select("lien", "loan")
        added = await db.copy_frame("lien_loan", (await db.numbered("lien_loan", pairs)))
        return {"written": added, "removed": 0}

    async def export(self, db: BulkDb) -> pl.DataFrame:
        return await db.frame(
            """SELECT l.ref, n.ref FROM lien_loan ll JOIN lien l ON l.id = ll.lien
                                 JOIN loan n ON n.id = ll.loan""",
            {"lien_id": pl.String, "loan_id": pl.String},
        )
