"""The revaluation worklist's choices as the page reads and writes them: the date, the registrations' window, the
assets' reason, each list's sort (`sort` for the assets, `lien_sort` for the liens) and page. Every link and form
on the page is built from here, so sorting or paging one list keeps everything else."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any, cast, get_args
from urllib.parse import urlencode

from frontend.downloads import csv_url
from frontend.paging import Sort, SortLinks, kept_fields, read_sort
from registry.errors import InvalidInputError
from valuation.schemas import WorklistReason
from valuation.services.worklist import ASSET_SORT_COLUMNS, LIEN_SORT_COLUMNS

REASONS: tuple[str, ...] = get_args(WorklistReason)
# A first click on a heading: the most overdue and the largest value first, owners and refs in order. The liens'
# own order is by days left, soonest first, so that heading starts there.
ASSET_LARGEST_FIRST = {"days_overdue": True, "owner": False, "value": True, "asset": False}
LIEN_LARGEST_FIRST = {"days_left": False, "owner": False, "value": True, "lien": False}
LIEN_DEFAULT = Sort("days_left")
# The assets' "Order" select: their own order, then each sortable column both ways.
ASSET_ORDERS = (
    ("", "Never valued, then oldest valuation"),
    ("-days_overdue", "Days overdue, most first"),
    ("days_overdue", "Days overdue, fewest first"),
    ("-value", "Value, largest first"),
    ("value", "Value, smallest first"),
    ("owner", "Owner ref"),
    ("-owner", "Owner ref, Z to A"),
    ("asset", "Asset ref"),
    ("-asset", "Asset ref, Z to A"),
)


@dataclass(frozen=True)
class Worklist:
    as_of: date
    within_days: int
    reason: WorklistReason | None
    sort: Sort
    lien_sort: Sort
    page: int = 1
    lien_page: int = 1

    @classmethod
    def read(
        cls,
        as_of: date,
        within_days: int,
        reason: str | None,
        sort: str | None,
        lien_sort: str | None,
        page: int,
        lien_page: int,
    ) -> Worklist:
        # The select sends "" for every reason; anything else must be a known reason, not silently ignored.
        if reason and reason not in REASONS:
            raise InvalidInputError.one("reason", f"unknown value {reason!r}; one of {', '.join(REASONS)}")
        return cls(
            as_of,
            within_days,
            cast(WorklistReason | None, reason or None),
            read_sort("sort", sort, ASSET_SORT_COLUMNS),
            read_sort("lien_sort", lien_sort, LIEN_SORT_COLUMNS, default=LIEN_DEFAULT),
            page,
            lien_page,
        )

    def params(self) -> list[tuple[str, Any]]:
        """The choices in force, without the page numbers; a default is left out."""
        params: list[tuple[str, Any]] = [("as_of", self.as_of.isoformat()), ("within_days", self.within_days)]
        if self.reason:
            params.append(("reason", self.reason))
        if self.sort.text:
            params.append(("sort", self.sort.text))
        if self.lien_sort != LIEN_DEFAULT:
            params.append(("lien_sort", self.lien_sort.text))
        return params

    def url(self, **changes: Any) -> str:
        shown = replace(self, **changes)
        pages = [(name, n) for name, n in (("page", shown.page), ("lien_page", shown.lien_page)) if n > 1]
        return "/worklist?" + urlencode(shown.params() + pages)

    def asset_page_url(self, page: int) -> str:
        return self.url(page=page)

    def lien_page_url(self, page: int) -> str:
        return self.url(lien_page=page) + "#liens"

    @property
    def asset_sorts(self) -> SortLinks:
        """Sorting the assets starts them again at their first page; the liens keep their page and order."""
        return SortLinks(self.sort, ASSET_LARGEST_FIRST, lambda s: self.url(sort=s, page=1))

    @property
    def lien_sorts(self) -> SortLinks:
        return SortLinks(self.lien_sort, LIEN_LARGEST_FIRST, lambda s: self.url(lien_sort=s, lien_page=1) + "#liens")

    def csv_url(self, which: str) -> str:
        """One list's download: its rows in its order, every page of them."""
        return csv_url(self.url(), **({"list": "liens"} if which == "liens" else {}))

    def kept(self, *set_here: str) -> list[tuple[str, str]]:
        return kept_fields(self.params(), *set_here)
