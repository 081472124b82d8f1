"""Input fields: the length limits of the columns they land in (msgspec refuses more, so an over-long value is a
422 naming the field rather than a database error), and in the OpenAPI document the form the services require
(a ref's characters, a decimal amount, a known currency, a non-blank name, a date in the registry's range), so a
client generated from the document sends values the API takes.

The stricter forms are stated in the document only (`_documented`): the services check them and report every bad
field of a request at once with a reason a person can act on, which msgspec's first-failure decoding would not.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import msgspec

from registry import dates
from registry.money import MINOR_DIGITS

# PostgreSQL text cannot hold NUL; refusing it here names the field instead of failing in the database.
_NO_NUL = r"^[^\x00]*$"
# registry.services.common: refs, and the characters a name or text may not hold (C0 controls but tab and line
# breaks, bidirectional overrides and isolates).
REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_HIDDEN = r"\x00-\x08\x0b\x0c\x0e-\x1f\u202a-\u202e\u2066-\u2069"
VISIBLE_TEXT = rf"^[^{_HIDDEN}]*$"
NON_BLANK_TEXT = rf"^[^{_HIDDEN}]*[^\s{_HIDDEN}][^{_HIDDEN}]*$"
# A non-negative decimal amount. The places allowed depend on the currency (2 for most, 0 for JPY, KRW and VND,
# 3 for KWD, BHD and OMR): the document states the common form, the service judges the currency's.
AMOUNT_PATTERN = r"^[0-9]{1,15}(\.[0-9]{1,2})?$"
AMOUNT_DESCRIPTION = (
    'a non-negative decimal string such as "1234.56", with at most the currency\'s minor digits '
    "(2 for most; 0 for JPY, KRW, VND; 3 for KWD, BHD, OMR)"
)
# Dates and timestamps of the registry's range (registry.dates: 1900-01-01 to 2999-12-31).
YEARS_PATTERN = r"^(19[0-9]{2}|2[0-9]{3})-"
_YEARS = YEARS_PATTERN
DATE_RANGE = f"from {dates.EARLIEST.isoformat()} to {dates.LATEST.isoformat()}"


def _documented(**schema: Any) -> dict[str, Any]:
    """What Litestar adds to a field's OpenAPI schema (msgspec's own checks are unchanged)."""
    return {"extra": schema}


def documented_text(max_length: int, **doc: Any) -> msgspec.Meta:
    """A text field of at most max_length characters whose document states `doc` besides."""
    return _text(max_length, doc=doc)


def _text(max_length: int, min_length: int = 0, doc: dict[str, Any] | None = None) -> msgspec.Meta:
    """msgspec's limits; `doc`, the schema keywords the document states besides (Litestar's attribute names)."""
    return msgspec.Meta(
        min_length=min_length,
        max_length=max_length,
        pattern=_NO_NUL,
        extra_json_schema=_documented(**doc) if doc else None,
    )


Ref = Annotated[str, _text(64, doc={"pattern": REF_PATTERN, "min_length": 1})]
Name = Annotated[str, _text(255, doc={"pattern": NON_BLANK_TEXT, "min_length": 1})]
OptionalName = Annotated[str, _text(255, doc={"pattern": VISIBLE_TEXT})]
Short = Annotated[str, _text(32)]
Label = Annotated[str, _text(32, doc={"pattern": VISIBLE_TEXT})]
IdNumber = Annotated[str, _text(64)]
Currency = Annotated[str, _text(3, 3, doc={"enum": sorted(MINOR_DIGITS)})]
# A yearly interest rate as a ratio from 0 to 10.
Rate = Annotated[str, _text(16, doc={"pattern": r"^([0-9](\.[0-9]{1,14})?|10(\.0{1,13})?)$"})]
Amount = Annotated[str, _text(32, doc={"pattern": AMOUNT_PATTERN, "description": AMOUNT_DESCRIPTION})]
Memo = Annotated[str, _text(255)]
LongText = Annotated[str, _text(4000, doc={"pattern": VISIBLE_TEXT})]
RequiredText = Annotated[str, _text(4000, doc={"pattern": NON_BLANK_TEXT, "min_length": 1})]
RegistrationNumber = Annotated[str, _text(128, doc={"pattern": VISIBLE_TEXT})]
Username = Annotated[str, _text(64, doc={"pattern": r"^[^\x00]*[^\s\x00][^\x00]*$", "min_length": 1})]
Password = Annotated[str, _text(1024, doc={"min_length": 8})]
LoginPassword = Annotated[str, _text(1024)]
LoanRefs = Annotated[list[Ref], msgspec.Meta(max_length=200)]
Identifiers = Annotated[
    dict[Annotated[str, _text(32, 1)], Annotated[str, _text(128, doc={"pattern": NON_BLANK_TEXT, "min_length": 1})]],
    msgspec.Meta(
        max_length=20,
        extra_json_schema=_documented(
            property_names={"type": "string", "minLength": 1, "maxLength": 32},
            additional_properties={"type": "string", "minLength": 1, "maxLength": 128, "pattern": NON_BLANK_TEXT},
        ),
    ),
]
# A GeoJSON region or parcel: the services take a Polygon or MultiPolygon (registry.geometry checks the rings).
GEOJSON_AREA: dict[str, Any] = {
    "required": ["type", "coordinates"],
    "properties": {"type": {"type": "string", "enum": ["Polygon", "MultiPolygon"]}, "coordinates": {"type": "array"}},
}
Region = Annotated[dict[str, Any], msgspec.Meta(extra_json_schema=_documented(**GEOJSON_AREA))]
Day = Annotated[date, msgspec.Meta(extra_json_schema=_documented(pattern=_YEARS, description=DATE_RANGE))]
Moment = Annotated[datetime, msgspec.Meta(extra_json_schema=_documented(pattern=_YEARS, description=DATE_RANGE))]
