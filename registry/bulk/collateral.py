"""The assets, liens and lien_loans files.

A lien's currency is not in the file: it is the currency of the loans it secures (from this
import's lien_loans, or the database), else the lien's existing currency, else the book's default."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from registry import clock
from registry.bulk import checks as c
from registry.bulk.book import BookFile, ImportContext, Reference
from registry.bulk.checks import ROW
from registry.bulk.database import BulkDb
from registry.money import DEFAULT_CURRENCY
from registry.registration import RegistrationStatus
from registry.schemas.assets import ASSET_KINDS, PARCEL_KINDS
from registry.schemas.liens import LIEN_KINDS

_PERFECTED = "__perfected_at"  # perfected_at parsed once, for its three checks
_MAX_DIGITS = pl.lit(3)  # the most minor digits of any known currency; refined once the currency is known


def _errors(file: str, frame: pl.DataFrame, column: str, reason: pl.Expr) -> pl.DataFrame:
    return frame.select(
        pl.lit(file).alias("file"), pl.col(ROW).alias("row"), pl.lit(column).alias("column"), reason.alias("reason")
    )


async def _fill_from_db(ctx: ImportContext, frame: pl.DataFrame, ref: str, column: str, table: str) -> pl.DataFrame:
    """Fill `column` where the import left it empty with the value the database holds for that ref."""
    unknown = frame.filter(pl.col(column).is_null())[ref].unique().to_list()
    from_db = await ctx.db.by_ref(table, column, unknown)
    if not from_db:
        return frame
    return frame.with_columns(
        pl.col(column).fill_null(pl.col(ref).replace_strict(from_db, default=None, return_dtype=pl.String))
    )


class AssetsFile(BookFile):
    name = "assets"
    tables = ("asset",)
    columns = ("asset_id", "kind", "owner_id", "description")
    sort_by = ("asset_id",)
    references = (Reference("owner_id", "parties", "party"),)
    staging = {"ref": "text", "kind": "text", "owner_ref": "text", "description": "text"}

    def checks(self) -> dict[str, pl.Expr]:
        return {
            "asset_id": c.first_reason(c.ref("asset_id"), c.duplicated("asset_id", what="asset_id")),
            "kind": c.one_of("kind", ASSET_KINDS),
            "owner_id": c.ref("owner_id"),
            "description": c.text("description", 4000, nullable=True),
        }

    async def prepare(self, ctx: ImportContext, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        staged = frame.select(
            ROW,
            pl.col("asset_id").alias("ref"),
            "kind",
            pl.col("owner_id").alias("owner_ref"),
            pl.col("description").fill_null(""),
        )
        # A drawn parcel belongs to land and buildings; re-kinding such an asset would orphan it.
        parcelled: list[str] = []
        if not await ctx.db.is_empty("asset"):
            await ctx.db.stage("lookup_assets", staged.select("ref", "kind"), {"ref": "text", "kind": "text"})
            kinds = ", ".join(f"'{k}'" for k in PARCEL_KINDS)
            parcelled = [
                r[0]
                for r in await ctx.db.fetch(
                    f"SELECT a.ref FROM asset a JOIN lookup_assets v ON v.ref = a.ref "
                    f"WHERE a.geometry IS NOT NULL AND v.kind NOT IN ({kinds})"
                )
            ]
        errors = _errors(
            self.name,
            staged.filter(pl.col("ref").is_in(parcelled)),
            "kind",
            pl.format("asset {} has a parcel; only real_estate or land_use_right may", pl.col("ref")),
        )
        return staged.drop(ROW), errors

    async def upsert(self, db: BulkDb, now: datetime, actor: str) -> dict[str, int]:
        on_conflict = db.conflict(
            "asset",
            """ON CONFLICT (ref) DO UPDATE
                SET kind = excluded.kind, owner = excluded.owner, description = excluded.description
                WHERE asset.kind IS DISTINCT FROM excluded.kind OR asset.owner IS DISTINCT FROM excluded.owner
                   OR asset.description IS DISTINCT FROM excluded.description""",
        )
        written = await db.execute(
            f"""INSERT INTO asset (ref, kind, owner, description, address, identifiers, status, created_at)
                SELECT s.ref, s.kind, p.id, s.description, '', '{{}}', 'active', {db.as_timestamp(db.param(1))}
                FROM {self.stage_table} s JOIN party p ON p.ref = s.owner_ref WHERE true
                {on_conflict}""",
            db.timestamp_param(now),
        )
        return {"written": written}

    async def load_fresh(self, db: BulkDb, frame: pl.DataFrame, now: datetime, actor: str) -> dict[str, int] | None:
        owners = await db.ids_of("party", frame["owner_ref"], "owner")
        rows = (await db.numbered("asset", frame)).join(owners, on="owner_ref")
        written = await db.copy_frame(
            "asset",
            rows.select(
                "id",
                "ref",
                "kind",
                "owner",
                "description",
                address=pl.lit(""),
                identifiers=pl.lit("{}"),
                status=pl.lit("active"),
                created_at=pl.lit(now.isoformat()),
            ),
        )
        return {"written": written}

    async def export(self, db: BulkDb) -> pl.DataFrame:
        return await db.frame(
            "SELECT a.ref, a.kind, p.ref, a.description FROM asset a JOIN party p ON p.id = a.owner",
            {"asset_id": pl.String, "kind": pl.String, "owner_id": pl.String, "description": pl.String},
        )


class LiensFile(BookFile):
    name = "liens"
    tables = ("lien",)
    columns = ("lien_id", "asset_id", "kind", "holder", "status", "perfected_at", "cap", "external_claim")
    # DESIGN 8: the currency of the cap or claim; without it a lien takes its loans' (or keeps its own).
    optional_columns = ("currency",)
    sort_by = ("lien_id",)
    references = (Reference("asset_id", "assets", "asset"),)
    staging = {
        "ref": "text",
        "asset_ref": "text",
        "kind": "text",
        "holder": "text",
        "status": "text",
        "perfected_at": "text",
        "cap": "bigint",
        "external_claim": "bigint",
        "currency": "text",
    }

    def derived(self) -> dict[str, pl.Expr]:
        return {_PERFECTED: c.parse_timestamp("perfected_at")}

    def checks(self) -> dict[str, pl.Expr]:
        own = pl.col("holder") == "own"
        return {
            "lien_id": c.first_reason(c.ref("lien_id"), c.duplicated("lien_id", what="lien_id")),
            "asset_id": c.ref("asset_id"),
            "kind": c.one_of("kind", LIEN_KINDS),
            "holder": c.text("holder", 255),
            "status": c.one_of("status", [s.value for s in RegistrationStatus]),
            "perfected_at": c.first_reason(
                c.reason_if(
                    (pl.col("status") == "registered") & pl.col("perfected_at").is_null(),
                    "required when status is registered",
                ),
                c.timestamp("perfected_at", parsed=pl.col(_PERFECTED)),
                c.reason_if(pl.col(_PERFECTED) > pl.lit(clock.now()), "cannot be in the future"),
            ),
            "cap": c.amount("cap", _MAX_DIGITS),
            "external_claim": c.first_reason(
                c.reason_if(
                    own & pl.col("external_claim").is_not_null(),
                    "an own lien's claim comes from its loans; leave external_claim empty",
                ),
                c.reason_if(~own & pl.col("external_claim").is_null(), "required for another creditor's lien"),
                c.amount("external_claim", _MAX_DIGITS),
            ),
            "currency": c.currency("currency", nullable=True),
        }

    async def _currencies(
        self, ctx: ImportContext, liens: pl.DataFrame
    ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        """Each lien's currency (the file's, else its loans', else the one it has, else the default), the
        liens whose loans disagree on one, and the liens whose given currency is not their loans'."""
        pairs = ctx.frames.get("lien_loans", pl.DataFrame(schema={"lien_id": pl.String, "loan_id": pl.String}))
        pairs = pairs.select("lien_id", "loan_id").filter(pl.col("lien_id").is_in(liens["lien_id"].implode()))
        loans = ctx.frames.get("loans", pl.DataFrame(schema={"loan_id": pl.String, "currency": pl.String}))
        known = pairs.join(loans.select("loan_id", "currency"), on="loan_id", how="left")
        known = await _fill_from_db(ctx, known, "loan_id", "currency", "loan")
        # min/max rather than a list of distinct currencies: list aggregation over a million liens is slow.
        spans = (
            known.drop_nulls("currency")
            .group_by("lien_id")
            .agg(pl.col("currency").min().alias("loan_currency"), pl.col("currency").max().alias("other_currency"))
        )
        mixed = spans.filter(pl.col("loan_currency") != pl.col("other_currency")).select(
            "lien_id", pl.concat_str("loan_currency", pl.lit(", "), "other_currency").alias("currency")
        )
        by_loans = spans.filter(pl.col("loan_currency") == pl.col("other_currency")).select("lien_id", "loan_currency")
        # Only liens whose loans give no currency fall back on the one they already have.
        fallback = liens.filter(~pl.col("lien_id").is_in(by_loans["lien_id"].implode()) & pl.col("currency").is_null())[
            "lien_id"
        ]
        existing = (
            await ctx.db.by_ref("lien", "currency", fallback.to_list()) if not await ctx.db.is_empty("lien") else {}
        )
        currencies = (
            liens.select(ROW, "lien_id", pl.col("currency").alias("given"))
            .join(by_loans, on="lien_id", how="left")
            .with_columns(
                pl.coalesce(
                    "given",
                    "loan_currency",
                    pl.col("lien_id").replace_strict(existing, default=None, return_dtype=pl.String),
                    pl.lit(DEFAULT_CURRENCY),
                ).alias("currency")
            )
        )
        mixed_rows = liens.select(ROW, "lien_id").join(mixed, on="lien_id").select(ROW, "lien_id", "currency")
        disagreeing = currencies.filter(
            pl.col("given").is_not_null()
            & pl.col("loan_currency").is_not_null()
            & (pl.col("given") != pl.col("loan_currency"))
        ).select(ROW, "given", "loan_currency")
        return currencies.select(ROW, "currency"), mixed_rows, disagreeing

    async def prepare(self, ctx: ImportContext, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        currencies, mixed, disagreeing = await self._currencies(ctx, frame)
        frame = frame.drop("currency").join(currencies, on=ROW)
        digits = c.minor_digits(pl.col("currency"))
        amount_errors = [
            _errors(
                self.name,
                frame.filter(c.amount(col, digits).is_not_null()),
                col,
                pl.format("more decimal places than {} has", pl.col("currency")),
            )
            for col in ("cap", "external_claim")
        ]
        errors = pl.concat(
            [
                _errors(
                    self.name,
                    mixed,
                    "lien_id",
                    pl.format("secures loans in several currencies ({})", pl.col("currency")),
                ),
                _errors(
                    self.name,
                    disagreeing,
                    "currency",
                    pl.format("{} differs from the currency of the loans it secures ({})", "given", "loan_currency"),
                ),
                *amount_errors,
            ]
        )
        staged = frame.select(
            pl.col("lien_id").alias("ref"),
            pl.col("asset_id").alias("asset_ref"),
            "kind",
            "holder",
            "status",
            c.stored_timestamp(c.parse_timestamp("perfected_at")).alias("perfected_at"),
            c.to_minor_units("cap", digits).alias("cap"),
            c.to_minor_units("external_claim", digits).alias("external_claim"),
            "currency",
        )
        return staged, errors

    async def upsert(self, db: BulkDb, now: datetime, actor: str) -> dict[str, int]:
        fields = ("asset", "kind", "holder", "currency", "cap", "external_claim", "status", "perfected_at")
        changed = " OR ".join(f"lien.{f} IS DISTINCT FROM excluded.{f}" for f in fields)
        on_conflict = db.conflict(
            "lien",
            f"""ON CONFLICT (ref) DO UPDATE SET {", ".join(f"{f} = excluded.{f}" for f in fields)}
                WHERE {changed}""",
        )
        written = await db.execute(
            f"""INSERT INTO lien (ref, asset, kind, holder, currency, cap, external_claim, authority,
                                  registration_number, status, perfected_at, created_at)
                SELECT s.ref, a.id, s.kind, s.holder, s.currency, s.cap, s.external_claim, '', '', s.status,
                       {db.as_timestamp("s.perfected_at")}, {db.as_timestamp(db.param(1))}
                FROM {self.stage_table} s JOIN asset a ON a.ref = s.asset_ref WHERE true
                {on_conflict}""",
            db.timestamp_param(now),
        )
        return {"written": written}

    async def load_fresh(self, db: BulkDb, frame: pl.DataFrame, now: datetime, actor: str) -> dict[str, int] | None:
        assets = await db.ids_of("asset", frame["asset_ref"], "asset")
        rows = (await db.numbered("lien", frame)).join(assets, on="asset_ref")
        written = await db.copy_frame(
            "lien",
            rows.select(
                "id",
                "ref",
                "asset",
                "kind",
                "holder",
                "currency",
                "cap",
                "external_claim",
                "status",
                "perfected_at",
                authority=pl.lit(""),
                registration_number=pl.lit(""),
                created_at=pl.lit(now.isoformat()),
            ),
        )
        return {"written": written}

    async def export(self, db: BulkDb) -> pl.DataFrame:
        raw = await db.frame(
            """SELECT l.ref, a.ref, l.kind, l.holder, l.status, l.perfected_at, l.cap, l.external_claim, l.currency
               FROM lien l JOIN asset a ON a.id = l.asset""",
            {
                "lien_id": pl.String,
                "asset_id": pl.String,
                "kind": pl.String,
                "holder": pl.String,
                "status": pl.String,
                "perfected_at": pl.Object,
                "cap": pl.Int64,
                "external_claim": pl.Int64,
                "currency": pl.String,
            },
        )
        digits = c.minor_digits(pl.col("currency"))
        perfected = pl.Series(
            "perfected_at", [None if v is None else str(v) for v in raw["perfected_at"]], dtype=pl.String
        )
        return raw.with_columns(perfected).with_columns(
            c.exported_timestamp(c.parse_timestamp("perfected_at")).alias("perfected_at"),
            c.format_units(pl.col("cap"), digits).alias("cap"),
            c.format_units(pl.col("external_claim"), digits).alias("external_claim"),
        )
