"""The policies and valuations files of the book (DESIGN section 8).

Valuations are keyed by (asset, valued_on, method): the file carries no valuation ref, and one
appraisal of an asset on a date by a method is one valuation. Imported approved valuations record
the importing user as the decider; four eyes apply to valuations entered one by one, not to a book
loaded from the bank's system of record."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from registry import clock
from registry.bulk import checks as c
from registry.bulk.book import BookFile, ImportContext, Reference
from registry.bulk.checks import ERRORS_SCHEMA
from registry.bulk.database import BulkDb
from registry.schemas.assets import ASSET_KINDS

METHODS = ("market_comparison", "income", "cost", "desktop", "auction_result")
VALUATION_STATUSES = ("submitted", "approved", "rejected")


class PoliciesFile(BookFile):
    name = "policies"
    tables = ("policy",)
    columns = ("kind", "haircut", "revaluation_days", "max_ltv")
    sort_by = ("kind",)
    staging = {"kind": "text", "haircut": "text", "revaluation_days": "bigint", "max_ltv": "text"}

    def checks(self) -> dict[str, pl.Expr]:
        return {
            "kind": c.first_reason(c.one_of("kind", ASSET_KINDS), c.duplicated("kind", what="policy kind")),
            "haircut": c.ratio("haircut", low=0, high=1),
            "revaluation_days": c.positive_int("revaluation_days"),
            "max_ltv": c.ratio("max_ltv", low=0, high=10),
        }

    async def prepare(self, ctx: ImportContext, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        return frame.select("kind", "haircut", pl.col("revaluation_days").cast(pl.Int64), "max_ltv"), pl.DataFrame(
            schema=ERRORS_SCHEMA
        )

    async def upsert(self, db: BulkDb, now: datetime, actor: str) -> dict[str, int]:
        fields = ("haircut", "revaluation_days", "max_ltv")
        on_conflict = db.conflict(
            "policy",
            f"""ON CONFLICT (kind) DO UPDATE SET {", ".join(f"{f} = excluded.{f}" for f in fields)}
                WHERE {" OR ".join(f"policy.{f} IS DISTINCT FROM excluded.{f}" for f in fields)}""",
        )
        written = await db.execute(
            f"""INSERT INTO policy (kind, haircut, revaluation_days, max_ltv)
                SELECT kind, haircut, revaluation_days, max_ltv FROM {self.stage_table} WHERE true
                {on_conflict}"""
        )
        return {"written": written}

    async def load_fresh(self, db: BulkDb, frame: pl.DataFrame, now: datetime, actor: str) -> dict[str, int] | None:
        rows = await db.numbered("policy", frame)
        return {
            "written": await db.copy_frame(
                "policy", rows.select("id", "kind", "haircut", "revaluation_days", "max_ltv")
            )
        }

    async def export(self, db: BulkDb) -> pl.DataFrame:
        raw = await db.frame(
            "SELECT kind, haircut, revaluation_days, max_ltv FROM policy",
            {"kind": pl.String, "haircut": pl.String, "revaluation_days": pl.Int64, "max_ltv": pl.String},
        )
        return raw.with_columns(pl.col("revaluation_days").cast(pl.String))


class ValuationsFile(BookFile):
    name = "valuations"
    tables = ("valuation",)
    columns = ("asset_id", "valued_on", "market_value", "currency", "method", "status")
    sort_by = ("asset_id", "valued_on", "method")
    references = (Reference("asset_id", "assets", "asset"),)
    staging = {
        "asset_ref": "text",
        "valued_on": "text",
        "market_value": "bigint",
        "currency": "text",
        "method": "text",
        "status": "text",
    }

    def checks(self) -> dict[str, pl.Expr]:
        digits = c.minor_digits(pl.col("currency"))
        return {
            "asset_id": c.ref("asset_id"),
            "valued_on": c.first_reason(
                c.date("valued_on"),
                # As the API refuses it: a valuation dates from its inspection, which has happened.
                c.not_after("valued_on", clock.today(), "is in the future; a valuation dates from its inspection"),
                c.duplicated(
                    "asset_id", "valued_on", "method", what="valuation of this asset on this date by this method"
                ),
            ),
            "market_value": c.amount("market_value", digits, nullable=False),
            "currency": c.currency("currency"),
            "method": c.one_of("method", METHODS),
            "status": c.one_of("status", VALUATION_STATUSES),
        }

    async def prepare(self, ctx: ImportContext, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        digits = c.minor_digits(pl.col("currency"))
        staged = frame.select(
            pl.col("asset_id").alias("asset_ref"),
            "valued_on",
            c.to_minor_units("market_value", digits).alias("market_value"),
            "currency",
            "method",
            "status",
        )
        return staged, pl.DataFrame(schema=ERRORS_SCHEMA)

    async def upsert(self, db: BulkDb, now: datetime, actor: str) -> dict[str, int]:
        stamp, actor_param = db.as_timestamp(db.param(1)), db.as_text(db.param(2))
        decided = "CASE WHEN s.status = 'submitted' THEN NULL ELSE {} END"
        fields = ("market_value", "currency", "status")
        on_conflict = db.conflict(
            "valuation",
            f"""ON CONFLICT (asset, valued_on, method) DO UPDATE
                SET {", ".join(f"{f} = excluded.{f}" for f in fields)}
                WHERE {" OR ".join(f"valuation.{f} IS DISTINCT FROM excluded.{f}" for f in fields)}""",
        )
        written = await db.execute(
            f"""INSERT INTO valuation (asset, valued_on, market_value, currency, method, appraiser, status,
                                       submitted_by, submitted_at, decided_by, decided_at, reason)
                SELECT a.id, {db.as_date("s.valued_on")}, s.market_value, s.currency, s.method, '', s.status,
                       {actor_param}, {stamp}, {decided.format(actor_param)}, {decided.format(stamp)}, ''
                FROM {self.stage_table} s JOIN asset a ON a.ref = s.asset_ref WHERE true
                {on_conflict}""",
            db.timestamp_param(now),
            actor,
        )
        return {"written": written}

    async def load_fresh(self, db: BulkDb, frame: pl.DataFrame, now: datetime, actor: str) -> dict[str, int] | None:
        assets = await db.ids_of("asset", frame["asset_ref"], "asset")
        rows = frame.join(assets, on="asset_ref")
        rows = await db.numbered("valuation", rows)
        stamp = pl.lit(now.isoformat())
        decided = pl.col("status") != "submitted"
        written = await db.copy_frame(
            "valuation",
            rows.select(
                "id",
                "asset",
                "valued_on",
                "market_value",
                "currency",
                "method",
                "status",
                appraiser=pl.lit(""),
                submitted_by=pl.lit(actor),
                submitted_at=stamp,
                decided_by=pl.when(decided).then(pl.lit(actor)),
                decided_at=pl.when(decided).then(stamp),
                reason=pl.lit(""),
            ),
        )
        return {"written": written}

    async def export(self, db: BulkDb) -> pl.DataFrame:
        raw = await db.frame(
            """SELECT a.ref, v.valued_on, v.market_value, v.currency, v.method, v.status
               FROM valuation v JOIN asset a ON a.id = v.asset""",
            {
                "asset_id": pl.String,
                "valued_on": pl.Object,
                "market_value": pl.Int64,
                "currency": pl.String,
                "method": pl.String,
                "status": pl.String,
            },
        )
        valued_on = pl.Series("valued_on", [str(v) for v in raw["valued_on"]], dtype=pl.String)
        return raw.with_columns(
            valued_on, c.format_units(pl.col("market_value"), c.minor_digits(pl.col("currency"))).alias("market_value")
        )


def valuation_book_files() -> list[BookFile]:
    return [PoliciesFile(), ValuationsFile()]
