"""Generate a synthetic loan book in the bulk-import format of DESIGN section 8.

    python bench/generate.py OUT_DIR --loans N [--seed S] [--format csv|parquet] [--typed] [--bad-rows K]

writes the seven files parties, loans, assets, policies, valuations, liens and lien_loans (``.csv`` or
``.parquet``) for N loans: about 0.4N parties, 1.3N assets, 2N valuations, 1.45N liens, 1.7N lien links, nine
policies. The same arguments always give the same bytes: every draw comes from one numpy ``Generator`` seeded
with S, in a fixed order, and every date is relative to ANCHOR rather than today. Columns are built as whole
arrays (numpy for the numbers, Polars expressions for the text); there is no per-row Python loop, so a million
loans take seconds.

Every cell is a string (empty cell = null), amounts are decimal strings with exactly two places, ratios decimal
strings, dates ISO ``YYYY-MM-DD``, timestamps ISO 8601 UTC ``YYYY-MM-DDTHH:MM:SSZ``. ``--typed`` (Parquet only)
writes dates, timestamps, integers and decimals as Parquet types instead, which DESIGN section 8 also allows.

``--bad-rows K`` corrupts K cells spread through the files the way real extracts go wrong (an unknown borrower,
a negative principal, three decimal places, an unknown asset kind, an impossible date, a duplicated lien ref)
and prints each one as ``file, 1-based data row, column``, so the importer's refusal can be benchmarked and its
error list checked.

Importable: ``generate_book(n_loans, seed)``, ``corrupt_book(book, k, seed)``, ``write_book(book, out_dir, fmt)``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import polars as pl

ANCHOR = date(2026, 11, 1)  # "today" of every generated book; all dates lie before it
_ANCHOR_DAY = (ANCHOR - date(1970, 1, 1)).days
_ANCHOR_SECOND = int(datetime(ANCHOR.year, ANCHOR.month, ANCHOR.day, tzinfo=UTC).timestamp())

COLUMNS: dict[str, tuple[str, ...]] = {
    "parties": ("party_id", "name", "kind"),
    "loans": ("loan_id", "borrower_id", "currency", "principal", "interest", "penalty", "fees", "status"),
    "assets": ("asset_id", "kind", "owner_id", "description"),
    "policies": ("kind", "haircut", "revaluation_days", "max_ltv"),
    "valuations": ("asset_id", "valued_on", "market_value", "currency", "method", "status"),
    "liens": ("lien_id", "asset_id", "kind", "holder", "status", "perfected_at", "cap", "external_claim"),
    "lien_loans": ("lien_id", "loan_id"),
}
FILES = tuple(COLUMNS)
AMOUNT_COLUMNS: dict[str, tuple[str, ...]] = {
    "loans": ("principal", "interest", "penalty", "fees"),
    "valuations": ("market_value",),
    "liens": ("cap", "external_claim"),
}
REF_COLUMNS: dict[str, tuple[str, ...]] = {
    "parties": ("party_id",),
    "loans": ("loan_id", "borrower_id"),
    "assets": ("asset_id", "owner_id"),
    "valuations": ("asset_id",),
    "liens": ("lien_id", "asset_id"),
    "lien_loans": ("lien_id", "loan_id"),
}

ASSET_KINDS = (
    "real_estate",
    "land_use_right",
    "vehicle",
    "equipment",
    "inventory",
    "receivable",
    "deposit",
    "equity",
    "ip_right",
)
LOAN_STATUSES = ("performing", "overdue", "non_performing", "restructured", "settled", "written_off")
LIEN_KINDS = ("mortgage", "max_amount_mortgage", "pledge")
LIEN_STATUSES = ("draft", "submitted", "registered", "released", "rejected", "expired")
VALUATION_METHODS = ("market_comparison", "income", "cost", "desktop", "auction_result")
VALUATION_STATUSES = ("approved", "submitted", "rejected")
CURRENCIES = ("CNY", "USD", "HKD")

# kind: (haircut, revaluation_days, max_ltv)
POLICIES: dict[str, tuple[str, int, str]] = {
    "real_estate": ("0.30", 365, "0.70"),
    "land_use_right": ("0.35", 365, "0.65"),
    "vehicle": ("0.40", 180, "0.50"),
    "equipment": ("0.45", 365, "0.50"),
    "inventory": ("0.50", 90, "0.40"),
    "receivable": ("0.40", 180, "0.60"),
    "deposit": ("0.00", 365, "0.95"),
    "equity": ("0.50", 90, "0.50"),
    "ip_right": ("0.60", 365, "0.30"),
}

SURNAMES = (
    "Wang",
    "Li",
    "Zhang",
    "Liu",
    "Chen",
    "Yang",
    "Huang",
    "Zhao",
    "Wu",
    "Zhou",
    "Xu",
    "Sun",
    "Ma",
    "Zhu",
    "Hu",
    "Guo",
    "He",
    "Lin",
    "Gao",
    "Luo",
    "Zheng",
    "Liang",
    "Xie",
    "Song",
    "Tang",
    "Han",
    "Feng",
    "Deng",
    "Cao",
    "Peng",
)
GIVEN_NAMES = (
    "Wei",
    "Fang",
    "Na",
    "Min",
    "Jing",
    "Lei",
    "Qiang",
    "Jun",
    "Yan",
    "Yong",
    "Jie",
    "Tao",
    "Ming",
    "Chao",
    "Xiuying",
    "Xia",
    "Ping",
    "Gang",
    "Hui",
    "Hong",
    "Jian",
    "Ling",
    "Bo",
    "Dan",
    "Hao",
    "Yu",
    "Xin",
    "Lan",
    "Rui",
    "Zhiqiang",
    "Guoqing",
    "Haiyan",
    "Xiaoming",
    "Jianguo",
    "Lihua",
    "Yuxuan",
    "Zihan",
    "Yiming",
    "Shufen",
    "Wenjie",
)
CITIES = (
    "Shanghai",
    "Hangzhou",
    "Ningbo",
    "Wenzhou",
    "Suzhou",
    "Wuxi",
    "Nanjing",
    "Hefei",
    "Shaoxing",
    "Jiaxing",
    "Shenzhen",
    "Guangzhou",
    "Xiamen",
    "Beijing",
    "Tianjin",
    "Qingdao",
    "Chengdu",
    "Wuhan",
)
TRADES = (
    "Xinda",
    "Hengtong",
    "Huamao",
    "Jinlong",
    "Tianyu",
    "Zhongxing",
    "Ruifeng",
    "Dongfang",
    "Haitian",
    "Yongsheng",
    "Baosheng",
    "Minghua",
    "Kaiyuan",
    "Longteng",
    "Shengda",
    "Huaxin",
    "Jiahe",
    "Fuxing",
    "Guanghui",
    "Taifeng",
)
LINES = (
    "Trading",
    "Textile",
    "Machinery",
    "Logistics",
    "Real Estate Development",
    "Electronics",
    "Chemical",
    "Food",
    "Construction",
    "Auto Parts",
    "Garment",
    "New Materials",
    "Pharmaceutical",
    "Packaging",
)
FORMS = ("Co., Ltd.", "Group Co., Ltd.", "Industrial Co., Ltd.", "Technology Co., Ltd.")
DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "real_estate": ("Residential flat", "Office floor", "Retail unit", "Villa", "Industrial plant", "Warehouse"),
    "land_use_right": ("Industrial land use right", "Commercial land use right", "Residential land use right"),
    "vehicle": ("Passenger car", "Heavy truck", "Delivery van", "Coach", "Excavator"),
    "equipment": ("CNC machining centre", "Injection moulding line", "Tower crane", "Textile looms", "Printing press"),
    "inventory": ("Steel coil stock", "Finished garments", "Electronic components", "Grain in warehouse"),
    "receivable": ("Trade receivables", "Lease receivables", "Toll road charging rights"),
    "deposit": ("Time deposit", "Certificate of deposit", "Margin deposit"),
    "equity": ("Shares in unlisted company", "Listed shares", "Partnership interest"),
    "ip_right": ("Invention patent", "Trademark portfolio", "Software copyright"),
}
OTHER_CREDITORS = (
    "China Construction Bank Shanghai Branch",
    "Industrial and Commercial Bank of China Hangzhou Branch",
    "Bank of Communications Shanghai Pudong Sub-branch",
    "Shanghai Pudong Development Bank",
    "China Merchants Bank Hangzhou Branch",
    "Agricultural Bank of China Shanghai Branch",
    "Bank of Hangzhou",
    "Ping An Bank Shanghai Branch",
    "Zhejiang Xinhu Financial Leasing Co.",
    "Bank of Ningbo",
    "中国银行上海市分行",
    "浙商银行杭州分行",
)

# Asset kind mix by the borrower's party kind (same order as ASSET_KINDS).
_KIND_P_INDIVIDUAL = (0.62, 0.02, 0.20, 0.01, 0.00, 0.01, 0.10, 0.03, 0.01)
_KIND_P_COMPANY = (0.30, 0.14, 0.08, 0.16, 0.09, 0.11, 0.04, 0.05, 0.03)
# Own lien kind by asset kind: P(mortgage), P(max_amount_mortgage); the rest are pledges.
_P_MORTGAGE = np.array((0.70, 0.70, 0.60, 0.60, 0.55, 0.0, 0.0, 0.0, 0.0))
_P_MAX_AMOUNT = np.array((0.30, 0.30, 0.10, 0.10, 0.05, 0.0, 0.0, 0.0, 0.0))
_SETTLED, _WRITTEN_OFF = LOAN_STATUSES.index("settled"), LOAN_STATUSES.index("written_off")
_DRAFT, _SUBMITTED, _REGISTERED, _RELEASED, _REJECTED, _EXPIRED = range(6)


def _ref(prefix: str, numbers: pl.Expr, width: int) -> pl.Expr:
    return pl.format(prefix + "{}", numbers.cast(pl.String).str.zfill(width))


def _width(count: int) -> int:
    return max(7, len(str(count)))


def _amount(cents: pl.Expr) -> pl.Expr:
    """Non-negative integer cents -> "1234.56"; null stays null."""
    return pl.format("{}.{}", cents // 100, (cents % 100).cast(pl.String).str.zfill(2))


def _pick(words: tuple[str, ...], index: np.ndarray) -> pl.Series:
    return pl.Series(words, dtype=pl.String).gather(pl.Series(index.astype(np.int64)))


def _choice(rng: np.random.Generator, size: int, p: tuple[float, ...]) -> np.ndarray:
    return rng.choice(len(p), size=size, p=np.asarray(p) / sum(p)).astype(np.int64)


def _within_group(counts: np.ndarray) -> np.ndarray:
    """For groups of the given sizes laid end to end: each row's 0-based position in its group."""
    starts = np.cumsum(counts) - counts
    return np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(starts, counts)


def _timestamp(seconds: pl.Expr) -> pl.Expr:
    """Unix seconds (negative = none) -> ISO 8601 UTC text, or null."""
    instant = (seconds * 1_000_000).cast(pl.Datetime("us", "UTC"))
    return pl.when(seconds >= 0).then(instant.dt.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _registration_seconds(rng: np.random.Generator, size: int, min_days: int, max_days: int) -> np.ndarray:
    """Registration times on working hours in Beijing (01:00-09:00 UTC), between min_days and max_days ago."""
    days = rng.integers(min_days, max_days, size)
    return _ANCHOR_SECOND - days * 86_400 + 3_600 + rng.integers(0, 8 * 3_600, size)


def _none() -> np.ndarray:
    return np.empty(0, dtype=np.int64)


@dataclass
class _Draws:
    """The arrays one step of the generator hands to the next (0-based indexes, integer cents)."""

    rng: np.random.Generator
    n: int  # loans
    n_parties: int = 0
    party_company: np.ndarray = field(default_factory=_none)
    borrower: np.ndarray = field(default_factory=_none)  # per loan: party index
    currency: np.ndarray = field(default_factory=_none)  # per loan: index into CURRENCIES
    status: np.ndarray = field(default_factory=_none)  # per loan: index into LOAN_STATUSES
    original: np.ndarray = field(default_factory=_none)  # per loan: amount lent, cents
    home: np.ndarray = field(default_factory=_none)  # per asset: the loan it was taken for
    kind: np.ndarray = field(default_factory=_none)  # per asset: index into ASSET_KINDS
    base_value: np.ndarray = field(default_factory=_none)  # per asset: cents
    own_asset: np.ndarray = field(default_factory=_none)  # per own lien: asset index
    own_lien: np.ndarray = field(default_factory=_none)  # per own lien: lien index (position in the liens file)


def _parties(d: _Draws) -> pl.DataFrame:
    rng, n_parties = d.rng, max(2, round(0.4 * d.n))
    company = rng.random(n_parties) < 0.3
    d.n_parties, d.party_company = n_parties, company
    words = {
        "surname": _pick(SURNAMES, rng.integers(0, len(SURNAMES), n_parties)),
        "given": _pick(GIVEN_NAMES, rng.integers(0, len(GIVEN_NAMES), n_parties)),
        "city": _pick(CITIES, rng.integers(0, len(CITIES), n_parties)),
        "trade": _pick(TRADES, rng.integers(0, len(TRADES), n_parties)),
        "line": _pick(LINES, rng.integers(0, len(LINES), n_parties)),
        "form": _pick(FORMS, rng.integers(0, len(FORMS), n_parties)),
    }
    return pl.DataFrame({"number": np.arange(1, n_parties + 1), "company": company, **words}).select(
        party_id=_ref("P", pl.col("number"), _width(n_parties)),
        name=pl.when(pl.col("company"))
        .then(pl.concat_str("city", "trade", "line", "form", separator=" "))
        .otherwise(pl.concat_str("surname", "given", separator=" ")),
        kind=pl.when(pl.col("company")).then(pl.lit("company")).otherwise(pl.lit("individual")),
    )


def _loans(d: _Draws) -> pl.DataFrame:
    rng, n = d.rng, d.n
    # Loans are numbered in borrower order, so a borrower's loans are neighbours (multi-loan liens use that).
    # A random permutation maps borrower slots to parties, spreading the big borrowers through the parties
    # file; the last 15% of parties borrow nothing and only own collateral. Skewed: a few borrowers have
    # hundreds of loans, most one to three.
    n_borrowers = max(1, round(0.85 * d.n_parties))
    party_of_slot = rng.permutation(d.n_parties)
    slot = np.sort(np.floor(n_borrowers * rng.random(n) ** 1.5).astype(np.int64))
    borrower = party_of_slot[slot]
    currency_draw = rng.random(n)
    currency = np.where(currency_draw < 0.01, 1, np.where(currency_draw < 0.02, 2, 0))
    status = _choice(rng, n, (0.70, 0.10, 0.08, 0.05, 0.05, 0.02))
    yuan = np.clip(np.exp(rng.normal(np.log(300_000), 1.1, n)), 10_000, 2_000_000_000)
    yuan = yuan * np.where(d.party_company[borrower], 3.0, 0.6)
    fx = np.array((1.0, 1 / 7.1, 1.09))[currency]
    original = (np.round(yuan * fx / 100) * 10_000).astype(np.int64)  # cents, whole hundreds of units
    closed = (status == _SETTLED) | (status == _WRITTEN_OFF)
    principal = np.where(closed, 0, (original * rng.uniform(0.15, 1.0, n)).astype(np.int64))
    overdue, npl, restructured = status == 1, status == 2, status == 3
    interest_rate = np.select(
        [overdue, npl], [rng.uniform(0.002, 0.03, n), rng.uniform(0.01, 0.12, n)], rng.uniform(0.0, 0.01, n)
    )
    interest_p = np.select([overdue, npl, restructured, closed], [0.8, 0.95, 0.5, 0.0], 0.35)
    interest = np.where(rng.random(n) < interest_p, principal * interest_rate, 0).astype(np.int64)
    penalty_p = np.select([overdue, npl, restructured], [0.6, 0.85, 0.2], 0.0)
    penalty = np.where(rng.random(n) < penalty_p, principal * rng.uniform(0.0005, 0.05, n), 0).astype(np.int64)
    fees = np.where((rng.random(n) < 0.15) & ~closed, rng.integers(50, 5_000, n) * 100, 0)
    d.borrower, d.currency, d.status, d.original = borrower, currency, status, original
    return pl.DataFrame(
        {
            "number": np.arange(1, n + 1),
            "borrower": borrower + 1,
            "currency": _pick(CURRENCIES, currency),
            "principal": principal,
            "interest": interest,
            "penalty": penalty,
            "fees": fees,
            "status": _pick(LOAN_STATUSES, status),
        }
    ).select(
        loan_id=_ref("L", pl.col("number"), _width(n)),
        borrower_id=_ref("P", pl.col("borrower"), _width(d.n_parties)),
        currency="currency",
        principal=_amount(pl.col("principal")),
        interest=_amount(pl.col("interest")),
        penalty=_amount(pl.col("penalty")),
        fees=_amount(pl.col("fees")),
        status="status",
    )


def _assets(d: _Draws) -> pl.DataFrame:
    rng = d.rng
    # 0-3 per loan (12% unsecured), laid out in loan order; each is taken for its "home" loan.
    per_loan = _choice(rng, d.n, (0.12, 0.55, 0.25, 0.08))
    home = np.repeat(np.arange(d.n, dtype=np.int64), per_loan)
    n_assets = len(home)
    company = d.party_company[d.borrower[home]]
    kind = np.where(company, _choice(rng, n_assets, _KIND_P_COMPANY), _choice(rng, n_assets, _KIND_P_INDIVIDUAL))
    third_party = rng.random(n_assets) < 0.10
    owner = np.where(third_party, rng.integers(0, d.n_parties, n_assets), d.borrower[home])
    d.base_value = d.original[home] * np.exp(rng.normal(np.log(1.6), 0.35, n_assets)) / per_loan[home]
    d.home, d.kind = home, kind
    descriptions = tuple(text for k in ASSET_KINDS for text in DESCRIPTIONS[k])
    lengths = np.array([len(DESCRIPTIONS[k]) for k in ASSET_KINDS])
    offsets = np.cumsum(lengths) - lengths
    description = offsets[kind] + np.floor(rng.random(n_assets) * lengths[kind]).astype(np.int64)
    city = rng.integers(0, len(CITIES), n_assets)
    return pl.DataFrame(
        {
            "number": np.arange(1, n_assets + 1),
            "kind": _pick(ASSET_KINDS, kind),
            "owner": owner + 1,
            "what": _pick(descriptions, description),
            "city": _pick(CITIES, city),
        }
    ).select(
        asset_id=_ref("A", pl.col("number"), _width(n_assets)),
        kind="kind",
        owner_id=_ref("P", pl.col("owner"), _width(d.n_parties)),
        description=pl.concat_str("what", "city", separator=", "),
    )


def _policies() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "kind": list(POLICIES),
            "haircut": [p[0] for p in POLICIES.values()],
            "revaluation_days": [str(p[1]) for p in POLICIES.values()],
            "max_ltv": [p[2] for p in POLICIES.values()],
        }
    )


def _valuations(d: _Draws) -> pl.DataFrame:
    rng = d.rng
    n_assets = len(d.home)
    # 1-3 per asset, oldest first, about 16 months apart, all within the last four years.
    per_asset = 1 + _choice(rng, n_assets, (0.60, 0.25, 0.15))
    asset = np.repeat(np.arange(n_assets, dtype=np.int64), per_asset)
    size = len(asset)
    age = per_asset[asset] - 1 - _within_group(per_asset)  # 0 = the latest
    days_ago = age * 480 + rng.integers(1, 480, size)
    drift = np.exp(rng.normal(0.0, 0.06, size)) * (1 - 0.03 * age)
    market_value = np.maximum(np.round(d.base_value[asset] * drift / 100), 1).astype(np.int64) * 100
    method = _choice(rng, size, (0.55, 0.12, 0.15, 0.16, 0.02))
    status = _choice(rng, size, (0.88, 0.08, 0.04))
    return pl.DataFrame(
        {
            "asset": asset + 1,
            "day": _ANCHOR_DAY - days_ago,
            "value": market_value,
            "currency": _pick(CURRENCIES, d.currency[d.home][asset]),
            "method": _pick(VALUATION_METHODS, method),
            "status": _pick(VALUATION_STATUSES, status),
        }
    ).select(
        asset_id=_ref("A", pl.col("asset"), _width(n_assets)),
        valued_on=pl.col("day").cast(pl.Date).dt.strftime("%Y-%m-%d"),
        market_value=_amount(pl.col("value")),
        currency="currency",
        method="method",
        status="status",
    )


def _liens(d: _Draws) -> pl.DataFrame:
    rng = d.rng
    n_assets, kind = len(d.home), d.kind
    # Own liens: one per asset, a second one on 2% of assets (a later mortgage for a further loan).
    second = np.flatnonzero(rng.random(n_assets) < 0.02)
    own_asset = np.concatenate([np.arange(n_assets, dtype=np.int64), second])
    n_own = len(own_asset)
    draw, p_mortgage, p_max = rng.random(n_own), _P_MORTGAGE[kind[own_asset]], _P_MAX_AMOUNT[kind[own_asset]]
    own_kind = np.where(draw < p_mortgage, 0, np.where(draw < p_mortgage + p_max, 1, 2))
    loan_status = d.status[d.home[own_asset]]
    own_status = np.select(
        [loan_status == _SETTLED, loan_status == _WRITTEN_OFF],
        [
            np.where(rng.random(n_own) < 0.85, _RELEASED, _REGISTERED),
            np.where(rng.random(n_own) < 0.40, _RELEASED, _REGISTERED),
        ],
        # draft, submitted, registered, released, rejected, expired
        _choice(rng, n_own, (0.02, 0.04, 0.88, 0.02, 0.015, 0.025)),
    )
    own_perfected = _registration_seconds(rng, n_own, 30, 8 * 365)
    own_perfected = np.where(np.isin(own_status, (_REGISTERED, _RELEASED, _EXPIRED)), own_perfected, -1)
    cap = np.round(d.original[d.home[own_asset]] * rng.uniform(1.0, 1.5, n_own) / 1_000_000) * 1_000_000
    own_cap = np.where(own_kind == 1, np.maximum(cap, 1_000_000), -1).astype(np.int64)

    # Other creditors' liens: on 15% of immovables and 4% of other assets, a tenth of those with two.
    other_count = np.where(rng.random(n_assets) < np.where(kind <= 1, 0.15, 0.04), 1 + (rng.random(n_assets) < 0.10), 0)
    other_asset = np.repeat(np.arange(n_assets, dtype=np.int64), other_count)
    n_other = len(other_asset)
    holder = rng.integers(0, len(OTHER_CREDITORS), n_other)
    other_kind = np.where(kind[other_asset] <= 4, 0, 2)
    other_status = _choice(rng, n_other, (0.0, 0.03, 0.90, 0.05, 0.0, 0.02))
    other_perfected = _registration_seconds(rng, n_other, 30, 10 * 365)
    # A fifth of them were registered in the same second as our first lien on the asset: a shared rank.
    tie = (rng.random(n_other) < 0.20) & (own_perfected[other_asset] >= 0)
    other_perfected = np.where(tie, own_perfected[other_asset], other_perfected)
    other_perfected = np.where(np.isin(other_status, (_REGISTERED, _RELEASED, _EXPIRED)), other_perfected, -1)
    claim = (d.base_value[other_asset] * rng.uniform(0.1, 0.6, n_other)).astype(np.int64)

    # All liens ordered by asset (own ones first), numbered in that order.
    asset = np.concatenate([own_asset, other_asset])
    order = np.argsort(asset, kind="stable")
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    d.own_asset, d.own_lien = own_asset, position[:n_own]
    return pl.DataFrame(
        {
            "number": np.arange(1, len(order) + 1),
            "asset": asset[order] + 1,
            "kind": _pick(LIEN_KINDS, np.concatenate([own_kind, other_kind])[order]),
            "holder": pl.Series(("own", *OTHER_CREDITORS)).gather(
                pl.Series(np.concatenate([np.zeros(n_own, dtype=np.int64), holder + 1])[order])
            ),
            "status": _pick(LIEN_STATUSES, np.concatenate([own_status, other_status])[order]),
            "perfected": np.concatenate([own_perfected, other_perfected])[order],
            "cap": np.concatenate([own_cap, np.full(n_other, -1)])[order],
            "claim": np.concatenate([np.full(n_own, -1), claim])[order],
        }
    ).select(
        lien_id=_ref("LN", pl.col("number"), _width(len(order))),
        asset_id=_ref("A", pl.col("asset"), _width(n_assets)),
        kind="kind",
        holder="holder",
        status="status",
        perfected_at=_timestamp(pl.col("perfected")),
        cap=pl.when(pl.col("cap") >= 0).then(_amount(pl.col("cap"))),
        external_claim=pl.when(pl.col("claim") >= 0).then(_amount(pl.col("claim"))),
    )


def _lien_loans(d: _Draws, n_liens: int) -> pl.DataFrame:
    borrower, currency, n = d.borrower, d.currency, d.n
    # Every own lien secures its asset's home loan; some also the borrower's next one or two loans (same
    # borrower, same currency), as a general mortgage for a credit line does.
    loan = d.home[d.own_asset]
    extra = _choice(d.rng, len(loan), (0.62, 0.27, 0.11))

    def follows(step: int) -> np.ndarray:
        nxt = np.minimum(loan + step, n - 1)
        return (loan + step < n) & (borrower[nxt] == borrower[loan]) & (currency[nxt] == currency[loan])

    with1 = (extra >= 1) & follows(1)
    with2 = with1 & (extra >= 2) & follows(2)
    link_lien = np.concatenate([d.own_lien, d.own_lien[with1], d.own_lien[with2]])
    link_loan = np.concatenate([loan, loan[with1] + 1, loan[with2] + 2])
    order = np.lexsort((link_loan, link_lien))
    return pl.DataFrame({"lien": link_lien[order] + 1, "loan": link_loan[order] + 1}).select(
        lien_id=_ref("LN", pl.col("lien"), _width(n_liens)),
        loan_id=_ref("L", pl.col("loan"), _width(n)),
    )


def generate_book(n_loans: int, seed: int = 1) -> dict[str, pl.DataFrame]:
    """The book of n_loans loans, as one all-string DataFrame per file, columns in DESIGN order."""
    if n_loans < 1:
        raise ValueError("n_loans must be at least 1")
    d = _Draws(rng=np.random.default_rng(seed), n=n_loans)
    book = {
        "parties": _parties(d),
        "loans": _loans(d),
        "assets": _assets(d),
        "policies": _policies(),
        "valuations": _valuations(d),
        "liens": _liens(d),
    }
    book["lien_loans"] = _lien_loans(d, book["liens"].height)
    for name, frame in book.items():
        assert frame.columns == list(COLUMNS[name]), (name, frame.columns)
    return {name: book[name] for name in FILES}


@dataclass(frozen=True, slots=True)
class Corruption:
    file: str
    row: int  # 1-based data row (the header is row 0)
    column: str
    problem: str
    was: str | None
    now: str

    def __str__(self) -> str:
        return f"{self.file}, row {self.row}, column {self.column}: {self.problem} ({self.was!r} -> {self.now!r})"


# (file, column, problem), used in turn; duplicates go only on other creditors' liens, whose refs nothing else
# uses, so each corruption gives exactly one error rather than a cascade of unresolved references.
_CORRUPTIONS = (
    ("loans", "borrower_id", "unknown borrower ref"),
    ("loans", "principal", "negative amount"),
    ("valuations", "market_value", "three decimal places"),
    ("assets", "kind", "unknown asset kind"),
    ("valuations", "valued_on", "impossible date"),
    ("liens", "lien_id", "duplicate ref"),
)
_BAD_KINDS = ("vessel", "aircraft", "artwork", "crypto", "livestock")
_BAD_DATES = ("2023-02-30", "31/12/2023", "2024-13-01", "2022-06-31", "20230415")


def corrupt_book(
    book: dict[str, pl.DataFrame], k: int, seed: int = 1
) -> tuple[dict[str, pl.DataFrame], list[Corruption]]:
    """A copy of the book with k corrupted cells spread through the files, and the list of them (by file, row)."""
    rng = np.random.default_rng([seed, 0xBAD])
    kinds = [_CORRUPTIONS[i % len(_CORRUPTIONS)] for i in range(k)]
    used: dict[str, set[int]] = {name: set() for name in book}
    changes: dict[tuple[str, str], dict[int, str]] = {}
    corruptions: list[Corruption] = []
    other_liens = np.flatnonzero((book["liens"]["holder"] != "own").to_numpy())
    for spec in dict.fromkeys(kinds):
        file, column, problem = spec
        count = kinds.count(spec)
        frame = book[file]
        candidates = other_liens[1:] if problem == "duplicate ref" else np.arange(frame.height)
        if count > len(candidates) - len(used[file]):
            raise ValueError(f"the book is too small for {count} corruptions of {file}.{column}")
        # One row in each of `count` equal stretches of the file, moved on past rows already taken.
        stretch = len(candidates) / count
        for j in range(count):
            at = int((j + rng.random()) * stretch)
            while int(candidates[at % len(candidates)]) in used[file]:
                at += 1
            row = int(candidates[at % len(candidates)])
            used[file].add(row)
            was = frame[column][row]
            if problem == "unknown borrower ref":
                now = "P" + str(book["parties"].height + 1 + len(corruptions)).zfill(len(was) - 1)
            elif problem == "negative amount":
                now = "-" + (was if was != "0.00" else "1500.00")
            elif problem == "three decimal places":
                now = was + str(1 + int(rng.integers(0, 9)))
            elif problem == "unknown asset kind":
                now = _BAD_KINDS[int(rng.integers(0, len(_BAD_KINDS)))]
            elif problem == "impossible date":
                now = _BAD_DATES[int(rng.integers(0, len(_BAD_DATES)))]
            else:  # duplicate ref: take the ref of the nearest earlier other creditor's lien not yet touched
                before = [int(r) for r in other_liens[other_liens < row] if int(r) not in used[file]]
                if not before:
                    raise ValueError("no earlier lien to duplicate")
                used[file].add(before[-1])
                now = frame[column][before[-1]]
            changes.setdefault((file, column), {})[row] = now
            corruptions.append(Corruption(file, row + 1, column, problem, was, now))
    out = dict(book)
    for (file, column), cells in changes.items():
        series = out[file][column].clone()
        series.scatter(list(cells), list(cells.values()))
        out[file] = out[file].with_columns(series)
    corruptions.sort(key=lambda c: (FILES.index(c.file), c.row, c.column))
    return out, corruptions


def typed(book: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The book with Parquet-native types: dates, UTC timestamps, integers and decimals (scale 2, ratios 4)."""
    money = pl.Decimal(20, 2)
    casts: dict[str, dict[str, pl.Expr]] = {
        "loans": {c: pl.col(c).cast(money) for c in AMOUNT_COLUMNS["loans"]},
        "policies": {
            "haircut": pl.col("haircut").cast(pl.Decimal(8, 4)),
            "revaluation_days": pl.col("revaluation_days").cast(pl.Int32),
            "max_ltv": pl.col("max_ltv").cast(pl.Decimal(8, 4)),
        },
        "valuations": {
            "valued_on": pl.col("valued_on").str.to_date("%Y-%m-%d"),
            "market_value": pl.col("market_value").cast(money),
        },
        "liens": {
            "perfected_at": pl.col("perfected_at").str.to_datetime(
                "%Y-%m-%dT%H:%M:%SZ", time_unit="us", time_zone="UTC"
            ),
            "cap": pl.col("cap").cast(money),
            "external_claim": pl.col("external_claim").cast(money),
        },
    }
    return {name: frame.with_columns(**casts.get(name, {})) for name, frame in book.items()}


def write_book(book: dict[str, pl.DataFrame], out_dir: str | Path, fmt: str = "parquet") -> list[Path]:
    """Write the seven files as OUT_DIR/<file>.<fmt>, replacing any earlier book (of either format) there."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"format must be csv or parquet, not {fmt!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        for ext in ("csv", "parquet"):
            (out / f"{name}.{ext}").unlink(missing_ok=True)
    paths = []
    for name in FILES:
        path = out / f"{name}.{fmt}"
        if fmt == "csv":
            book[name].write_csv(path)
        else:
            book[name].write_parquet(path, compression="zstd", statistics=True)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--loans", type=int, required=True, help="number of loans")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", choices=("csv", "parquet"), default="parquet", dest="fmt")
    parser.add_argument("--typed", action="store_true", help="Parquet only: native dates, timestamps, decimals")
    parser.add_argument("--bad-rows", type=int, default=0, metavar="K", help="corrupt K rows (refusal benchmark)")
    args = parser.parse_args(argv)
    if args.loans < 1:
        parser.error("--loans must be at least 1")
    if args.typed and (args.fmt != "parquet" or args.bad_rows):
        parser.error("--typed needs --format parquet and no --bad-rows (a bad date cannot be a Parquet date)")

    started = time.perf_counter()
    book = generate_book(args.loans, args.seed)
    corruptions: list[Corruption] = []
    if args.bad_rows:
        book, corruptions = corrupt_book(book, args.bad_rows, args.seed)
    generated = time.perf_counter() - started
    write_book(typed(book) if args.typed else book, args.out_dir, args.fmt)
    total = time.perf_counter() - started

    rows = {name: frame.height for name, frame in book.items()}
    for name in FILES:
        print(f"{name:<11} {rows[name]:>12,} rows")
    print(f"{'total':<11} {sum(rows.values()):>12,} rows -> {args.out_dir}/*.{args.fmt}")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"generated in {generated:.1f} s, written in {total - generated:.1f} s, peak RSS {peak_mib:,.0f} MiB")
    if corruptions:
        print(f"{len(corruptions)} corrupted row(s) (file, 1-based data row, column):")
        for corruption in corruptions:
            print(f"  {corruption}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
