"""Request and response shapes of coverage over HTTP (DESIGN 5 and 8): loans, borrowers, the summary,
stress scenarios and restructuring what-ifs.

Amounts travel as decimal strings in their currency's minor digits, ratios as decimal strings with six
places; requests name loans, assets and liens by their refs."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

import msgspec

from registry.money import MINOR_DIGITS
from registry.schemas.assets import AssetKind
from registry.schemas.common import Page
from registry.schemas.fields import Amount, Day, Label, Moment, Ref, Region

# A percentage change such as "-20" or "12.5": bounds and places are checked by the stress service, so
# the 422 names the shock and says why.
# The document states the form the service takes: -100 to 1000 with at most six places.
_PERCENT = r"^(-(100(\.0{1,6})?|[0-9]{1,2}(\.[0-9]{1,6})?)|\+?(1000(\.0{1,6})?|[0-9]{1,3}(\.[0-9]{1,6})?))$"
Percent = Annotated[
    str,
    msgspec.Meta(
        min_length=1, max_length=24, pattern=r"^[^\x00]*$", extra_json_schema={"extra": {"pattern": _PERCENT}}
    ),
]
BreachChange = Literal["appears", "clears"]
# "CNY/USD=0.1405": units of the loan's currency (second) per unit of the valuation's (first).
_CURRENCY = "(" + "|".join(sorted(MINOR_DIGITS)) + ")"
FX_RATE_PATTERN = rf"^{_CURRENCY}/{_CURRENCY}=[0-9]{{1,9}}(\.[0-9]{{1,12}})?$"
FxRateText = Annotated[
    str,
    msgspec.Meta(
        min_length=1, max_length=40, pattern=r"^[^\x00]*$", extra_json_schema={"extra": {"pattern": FX_RATE_PATTERN}}
    ),
]
FxRateTexts = Annotated[list[FxRateText], msgspec.Meta(max_length=50)]


class CoverageLoan(msgspec.Struct):
    """One row of the DESIGN 8 coverage export: amounts in the loan's currency, ratios with six places.
    ltv = exposure / reachable_value: what the loan's liens could reach (their shares plus what their ranks
    leave free, within each lien's cap), not the collateral value, which stops at the claim."""

    loan_id: str
    borrower_id: str
    currency: str
    exposure: str
    collateral_value: str
    covered: str
    uncovered: str
    coverage_ratio: str | None
    ltv: str | None
    max_ltv: str | None
    breach: bool
    stale_valuation: bool
    no_valuation: bool
    unperfected: bool
    reachable_value: str


class CoverageContribution(msgspec.Struct):
    """One counted own lien's part in a loan's collateral value. The asset-side amounts
    (asset_value_after_haircut, prior_ranks_took, lien_claim, lien_share, lien_surplus) are in
    value_currency (the asset's valuation currency; the loan's when the asset has none); loan_share and
    loan_reach are in the loan's. lien_surplus: what the lien's rank leaves free, the lien's part of it;
    loan_reach: the loan's share plus its part of that surplus within the lien's cap (LTV's measure)."""

    asset_id: str
    kind: str
    lien_id: str
    holder: str
    rank: int
    value_currency: str | None
    asset_value_after_haircut: str
    prior_ranks_took: str
    lien_claim: str
    lien_share: str
    lien_surplus: str
    loan_share: str
    loan_reach: str
    stale_valuation: bool
    no_valuation: bool
    asset_seized: bool
    possible_double_pledge: bool
    registration_expiring: bool


class CoverageLoanDetail(msgspec.Struct):
    as_of: date
    include_unperfected: bool
    loan: CoverageLoan
    ltv_bucket: str
    registration_expiring: bool
    asset_seized: bool
    possible_double_pledge: bool
    contributions: list[CoverageContribution]


class BorrowerCoverage(msgspec.Struct):
    """A borrower's loans in one currency, added up (a borrower with loans in two currencies has two rows)."""

    borrower_id: str
    currency: str
    loans: int
    exposure: str
    collateral_value: str
    covered: str
    uncovered: str
    coverage_ratio: str | None
    breaches: int


class BorrowerCoverageDetail(msgspec.Struct):
    as_of: date
    include_unperfected: bool
    borrower_id: str
    totals: list[BorrowerCoverage]
    loans: list[CoverageLoan]


class CurrencyTotals(msgspec.Struct):
    currency: str
    loans: int
    exposure: str
    collateral_value: str
    covered: str
    uncovered: str
    coverage_ratio: str | None
    breaches: int
    loans_stale_valuation: int
    loans_no_valuation: int
    loans_unperfected: int
    loans_registration_expiring: int
    loans_asset_seized: int
    loans_possible_double_pledge: int


class BucketTotals(msgspec.Struct):
    currency: str
    ltv_bucket: str
    loans: int
    exposure: str
    collateral_value: str
    covered: str
    uncovered: str
    breaches: int


class KindTotals(msgspec.Struct):
    """What one kind of collateral contributes to the loans of one currency."""

    kind: str
    currency: str
    assets: int
    loans: int
    collateral_value: str


class CoverageSummary(msgspec.Struct):
    as_of: date
    include_unperfected: bool
    portfolio: list[CurrencyTotals]
    ltv_buckets: list[BucketTotals]
    asset_kinds: list[KindTotals]


# Stress (DESIGN 5): shocks applied to asset values after the haircut, before step 5.


class KindShock(msgspec.Struct, forbid_unknown_fields=True):
    kind: AssetKind
    change_pct: Percent


class RegionShock(msgspec.Struct, forbid_unknown_fields=True):
    """Every asset whose parcel intersects the GeoJSON region (of the given kinds, or all)."""

    region: Region
    change_pct: Percent
    kinds: Annotated[list[AssetKind], msgspec.Meta(min_length=1, max_length=9)] | None = None
    label: Label = ""


class StressScenario(msgspec.Struct, forbid_unknown_fields=True):
    """Changes are percentages from -100 (worthless) to +1000; shocks that meet on one asset multiply."""

    by_kind: Annotated[list[KindShock], msgspec.Meta(max_length=20)] = []
    by_region: Annotated[list[RegionShock], msgspec.Meta(max_length=20)] = []
    as_of: Day | None = None
    include_unperfected: bool = False
    fx: FxRateTexts = []


class Figures(msgspec.Struct):
    """A loan's coverage figures on one side of a comparison."""

    exposure: str
    collateral_value: str
    covered: str
    uncovered: str
    reachable_value: str
    coverage_ratio: str | None
    ltv: str | None
    ltv_bucket: str
    breach: bool


class TotalsSide(msgspec.Struct):
    loans: int
    exposure: str
    collateral_value: str
    covered: str
    uncovered: str
    coverage_ratio: str | None
    breaches: int


class CurrencyComparison(msgspec.Struct):
    currency: str
    base: TotalsSide
    stressed: TotalsSide


class BucketComparison(msgspec.Struct):
    currency: str
    ltv_bucket: str
    base: TotalsSide
    stressed: TotalsSide


class LoanComparison(msgspec.Struct):
    loan_id: str
    borrower_id: str
    currency: str
    base: Figures
    stressed: Figures
    breach_change: BreachChange | None


class ShockApplied(msgspec.Struct):
    """One shock as the engine applied it: the multiplier and how many assets it reached."""

    shock: str
    multiplier: str
    assets: int


class StressReport(msgspec.Struct):
    as_of: date
    include_unperfected: bool
    shocks: list[ShockApplied]
    assets_shocked: int
    portfolio: list[CurrencyComparison]
    ltv_buckets: list[BucketComparison]
    loans_changed: int
    breaches_appearing: int
    breaches_clearing: int
    changed_loans: list[LoanComparison]  # the page asked for, largest fall in collateral value first
    page: int
    page_size: int

    @property
    def changed_page(self) -> Page[LoanComparison]:
        """The changed loans as a page of all of them, for the pager."""
        return Page(self.changed_loans, self.loans_changed, self.page, self.page_size)


# Restructuring what-ifs (DESIGN 5): proposed changes applied to a copy of the book; nothing is written.


class CapitaliseInterest(msgspec.Struct, tag="capitalise_interest", forbid_unknown_fields=True):
    """Move outstanding interest into principal: all of it, or `amount` of it."""

    loan_id: Ref
    amount: Amount | None = None


class SetBalance(msgspec.Struct, tag="set_balance", forbid_unknown_fields=True):
    """New balance components for a loan (those given replace the current ones)."""

    loan_id: Ref
    principal: Amount | None = None
    interest: Amount | None = None
    penalty: Amount | None = None
    fees: Amount | None = None


class AddLien(msgspec.Struct, tag="add_lien", forbid_unknown_fields=True):
    """A new own lien on an existing asset, securing the given loans (ranked by perfected_at)."""

    lien_id: Ref
    asset_id: Ref
    loan_ids: Annotated[list[Ref], msgspec.Meta(min_length=1, max_length=200)]
    perfected_at: Moment | None = None
    status: Literal["registered", "submitted", "draft"] = "registered"
    cap: Amount | None = None
    expires_on: Day | None = None


class ReleaseLien(msgspec.Struct, tag="release_lien", forbid_unknown_fields=True):
    lien_id: Ref


class SubstituteAsset(msgspec.Struct, tag="substitute_asset", forbid_unknown_fields=True):
    """The lien moves to another existing asset, keeping its rank time and loans."""

    lien_id: Ref
    asset_id: Ref


ProposedChange = CapitaliseInterest | SetBalance | AddLien | ReleaseLien | SubstituteAsset


class WhatIfProposal(msgspec.Struct, forbid_unknown_fields=True):
    """Changes apply in order, each to the book the one before left."""

    changes: Annotated[list[ProposedChange], msgspec.Meta(min_length=1, max_length=100)]
    as_of: Day | None = None
    include_unperfected: bool = False
    fx: FxRateTexts = []


class WhatIfLoan(msgspec.Struct):
    loan_id: str
    borrower_id: str
    currency: str
    touched: bool  # named by a change (or secured by a lien a change names), not only sharing collateral
    before: Figures | None
    after: Figures | None
    breach_change: BreachChange | None


class WhatIfReport(msgspec.Struct):
    as_of: date
    include_unperfected: bool
    changes: int
    loans: list[WhatIfLoan]
    breaches_appearing: list[str]
    breaches_clearing: list[str]
