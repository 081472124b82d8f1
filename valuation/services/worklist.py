"""The revaluation worklist: what needs an appraiser or a registry clerk as of a date.

Assets: those still in the pledge book (active, seized, in disposal) whose latest approved valuation on
or before as_of is missing, stale (as_of - valued_on > revaluation_days of their kind), or cannot be
judged because their kind has no policy. Liens: registered ones on such assets whose registration
expires within the window, including those whose expiry date has already passed (still marked
registered, so the most urgent)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from registry.db import is_postgres
from registry.money import format_amount
from registry.schemas.common import Page, Paging
from registry.tables import Asset, Lien
from valuation.schemas import AssetDue, LienExpiring, WorklistReason

COUNTING_ASSET_STATUSES = ("active", "seized", "in_disposal")
_IN_BOOK = ", ".join(f"'{s}'" for s in COUNTING_ASSET_STATUSES)


def _days_between() -> str:
    """SQL for whole days from the latest valuation to as_of, on this engine."""
    if is_postgres():
        return "(CAST({} AS DATE) - w.last_valued_on)"
    return "CAST(julianday({}) - julianday(w.last_valued_on) AS INTEGER)"


_REASON_FILTERS: dict[str, str] = {
    "no_valuation": "w.last_valued_on IS NULL",
    "no_policy": "w.last_valued_on IS NOT NULL AND p.kind IS NULL",
    "stale": "w.last_valued_on IS NOT NULL AND p.kind IS NOT NULL",  # with the period test that every row passes
}


def _due_on() -> str:
    """SQL for the day a listed asset's valuation falls due (null when it was never valued or has no policy), as
    something that sorts by date on this engine."""
    if is_postgres():
        return "(t.last_valued_on + t.revaluation_days)"
    return "(julianday(t.last_valued_on) + t.revaluation_days)"


def _by(key: str, descending: bool) -> str:
    """`key` in the order asked, rows without one (never valued, say) last either way."""
    return f"({key} IS NULL), {key}{' DESC' if descending else ''}"


# The columns each list sorts on, "-" before one for largest (or most overdue) first; "" is the list's own order.
# Ties, and the rows of an amount sort, are broken by the row's ref. Amounts compare minor units: across
# currencies that compares unlike units, as the coverage list's amount sorts do.
ASSET_SORT_COLUMNS = ("days_overdue", "owner", "value", "asset")
LIEN_SORT_COLUMNS = ("days_left", "owner", "value", "lien")


def _split(sort: str, columns: tuple[str, ...]) -> tuple[str, bool]:
    column = sort.removeprefix("-")
    if sort and column not in columns:
        raise ValueError(f"unknown order {sort!r}")  # the pages refuse it by name before it gets here
    return column, sort.startswith("-")


def _common_order(column: str, descending: bool, ref_column: str) -> str | None:
    """The orders both worklists share (owner, value, their own ref), ref breaking ties; None for the others."""
    if column == "owner":
        return f"t.owner_ref{' DESC' if descending else ''}, t.ref"
    if column == "value":
        return f"{_by('t.last_value', descending)}, t.ref"
    if column == ref_column:
        return f"t.ref{' DESC' if descending else ''}"
    return None


def _asset_order(sort: str) -> str:
    """ "" puts the never valued first, then the oldest valuation; by days overdue, the most overdue first
    ("-days_overdue"; an asset that cannot be dated counts as the most overdue) or last."""
    column, descending = _split(sort, ASSET_SORT_COLUMNS)
    if (common := _common_order(column, descending, "asset")) is not None:
        return common
    if column == "days_overdue":
        # Most overdue: the earliest due day, the undated before every dated one.
        due = _due_on()
        return f"({due} IS NULL) {'DESC' if descending else ''}, {due}{'' if descending else ' DESC'}, t.ref"
    return "(t.last_valued_on IS NULL) DESC, t.last_valued_on, t.ref"


def _lien_order(sort: str) -> str:
    """ "" and "days_left": the soonest expiry first (those already past it lead); "-days_left" the latest."""
    column, descending = _split(sort, LIEN_SORT_COLUMNS)
    if (common := _common_order(column, descending, "lien")) is not None:
        return common
    return f"t.expires_on{' DESC' if descending else ''}, t.ref"


def _value_of(asset: str, on: str) -> str:
    """SQL for the market value and currency of the asset's approved valuation on that day (the lower of two),
    as coverage counts it."""
    return f"""(SELECT MIN(v.market_value) FROM valuation v WHERE v.asset = {asset} AND v.status = 'approved'
                AND v.valued_on = {on}) AS last_value,
               (SELECT MIN(v.currency) FROM valuation v WHERE v.asset = {asset} AND v.status = 'approved'
                AND v.valued_on = {on}) AS value_currency"""  # noqa: S608 - column names of our own


def _assets_due_sql(reason: str | None) -> str:
    # The latest approved valuation per asset comes from a correlated MAX on the (asset) index; the
    # filter then keeps only rows that need work, so the page and the count come from the database.
    as_of = "CAST({} AS DATE)" if is_postgres() else "{}"
    return f"""
        WITH w AS (
            SELECT a.id, a.ref, a.kind, a.status, a.owner,
                   (SELECT MAX(v.valued_on) FROM valuation v
                    WHERE v.asset = a.id AND v.status = 'approved' AND v.valued_on <= {as_of}) AS last_valued_on
            FROM asset a WHERE a.status IN ({_IN_BOOK})
        )
        SELECT w.ref, w.kind, w.status, w.last_valued_on, p.revaluation_days, o.ref AS owner_ref,
               o.name AS owner_name, {_value_of("w.id", "w.last_valued_on")}
        FROM w LEFT JOIN policy p ON p.kind = w.kind JOIN party o ON o.id = w.owner
        WHERE (w.last_valued_on IS NULL OR p.kind IS NULL OR {_days_between()} > p.revaluation_days)
          AND {_REASON_FILTERS[reason] if reason else "1 = 1"}
    """  # noqa: S608 - only our own constants are interpolated; values travel as parameters


def _as_date(value: Any) -> date | None:
    # SQLite hands back a MAX() over a date column as its stored text.
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _asset_due(row: dict[str, Any], as_of: date) -> AssetDue:
    last = _as_date(row["last_valued_on"])
    days = row["revaluation_days"]
    reason: WorklistReason = "no_valuation" if last is None else ("no_policy" if days is None else "stale")
    due_on = None if last is None or days is None else last + timedelta(days=days)
    return AssetDue(
        asset_ref=row["ref"],
        kind=row["kind"],
        status=row["status"],
        reason=reason,
        last_valued_on=last,
        revaluation_days=days,
        due_on=due_on,
        days_overdue=None if due_on is None else (as_of - due_on).days,
        owner_ref=row["owner_ref"],
        owner_name=row["owner_name"],
        last_value=None if row["last_value"] is None else format_amount(row["last_value"], row["value_currency"]),
        value_currency=row["value_currency"],
    )


async def assets_due(
    as_of: date, paging: Paging, reason: WorklistReason | None = None, sort: str = ""
) -> Page[AssetDue]:
    """Never valued first, then the longest unvalued, then by ref, or in the order `sort` names (one of
    ASSET_SORT_COLUMNS, "-" before it for the other way); `reason` keeps one kind of work."""
    sql = _assets_due_sql(reason)
    counted = await Asset.raw(f"SELECT COUNT(*) AS n FROM ({sql}) t", as_of, as_of)  # noqa: S608
    rows = await Asset.raw(
        f"""SELECT * FROM ({sql}) t ORDER BY {_asset_order(sort)}
            LIMIT {paging.page_size} OFFSET {paging.offset}""",  # noqa: S608 - paging is validated integers
        as_of,
        as_of,
    )
    return Page([_asset_due(r, as_of) for r in rows], int(counted[0]["n"]), paging.page, paging.page_size)


async def count_assets_due(as_of: date) -> int:
    """How many assets the worklist holds (every reason), in one query."""
    counted = await Asset.raw(f"SELECT COUNT(*) AS n FROM ({_assets_due_sql(None)}) t", as_of, as_of)  # noqa: S608
    return int(counted[0]["n"])


async def count_liens_expiring(as_of: date, within_days: int) -> tuple[int, int]:
    """(expiring within the window, of which already past their expiry while still marked registered), in one
    query."""
    day = "CAST({} AS DATE)" if is_postgres() else "{}"
    rows = await Lien.raw(
        f"""SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN l.expires_on < {day} THEN 1 ELSE 0 END), 0) AS lapsed
            FROM lien l JOIN asset a ON a.id = l.asset
            WHERE l.status = 'registered' AND l.expires_on IS NOT NULL AND l.expires_on <= {day}
              AND a.status IN ({_IN_BOOK})""",  # noqa: S608 - our own constants; the dates are parameters
        as_of,
        as_of + timedelta(days=within_days),
    )
    return int(rows[0]["n"]), int(rows[0]["lapsed"])


def _liens_expiring_sql() -> str:
    # The asset's value is its latest approved valuation on or before as_of, as on the assets' list.
    day = "CAST({} AS DATE)" if is_postgres() else "{}"
    return f"""
        WITH w AS (
            SELECT l.ref, l.kind, l.holder, l.registration_number, l.authority, l.expires_on, a.id AS asset_id,
                   a.ref AS asset_ref, o.ref AS owner_ref, o.name AS owner_name,
                   (SELECT MAX(v.valued_on) FROM valuation v
                    WHERE v.asset = a.id AND v.status = 'approved' AND v.valued_on <= {day}) AS last_valued_on
            FROM lien l JOIN asset a ON a.id = l.asset JOIN party o ON o.id = a.owner
            WHERE l.status = 'registered' AND l.expires_on IS NOT NULL AND l.expires_on <= {day}
              AND a.status IN ({_IN_BOOK})
        )
        SELECT w.*, {_value_of("w.asset_id", "w.last_valued_on")} FROM w
    """  # noqa: S608 - only our own constants are interpolated; values travel as parameters


def _as_day(value: Any) -> date:
    # SQLite hands back a date column read through raw SQL as its stored text.
    return value if isinstance(value, date) else date.fromisoformat(str(value))


async def liens_expiring(as_of: date, within_days: int, paging: Paging, sort: str = "") -> Page[LienExpiring]:
    """Registered liens expiring on or before as_of + within_days, soonest first, or in the order `sort` names
    (one of LIEN_SORT_COLUMNS, "-" before it for the other way)."""
    sql, until = _liens_expiring_sql(), as_of + timedelta(days=within_days)
    counted = await Lien.raw(f"SELECT COUNT(*) AS n FROM ({sql}) t", as_of, until)  # noqa: S608
    rows = await Lien.raw(
        f"""SELECT * FROM ({sql}) t ORDER BY {_lien_order(sort)}
            LIMIT {paging.page_size} OFFSET {paging.offset}""",  # noqa: S608 - paging is validated integers
        as_of,
        until,
    )
    items = [
        LienExpiring(
            lien_ref=r["ref"],
            asset_ref=r["asset_ref"],
            kind=r["kind"],
            holder=r["holder"],
            registration_number=r["registration_number"],
            authority=r["authority"],
            expires_on=(expires := _as_day(r["expires_on"])),
            days_left=(expires - as_of).days,
            owner_ref=r["owner_ref"],
            owner_name=r["owner_name"],
            last_value=None if r["last_value"] is None else format_amount(r["last_value"], r["value_currency"]),
            value_currency=r["value_currency"],
        )
        for r in rows
    ]
    return Page(items, int(counted[0]["n"]), paging.page, paging.page_size)
