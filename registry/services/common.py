"""Helpers shared by the services: field checks that gather every bad field of a request into one
FieldErrors, the row getter that answers 404, the read model and audit view of a row, and lookups by ref.

Every check takes the request's FieldErrors first and records its refusal there instead of raising, so a
create or update reports all its bad fields at once; the caller raises once, before writing anything."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, TypeVar, cast

import msgspec
from piccolo.columns.combination import Where
from piccolo.columns.operators.comparison import ComparisonOperator
from piccolo.table import Table

from registry import audit, dates
from registry.db import is_postgres, lock_row
from registry.errors import FieldErrors, NotFoundError, StateConflictError
from registry.money import MoneyError, minor_digits, parse_amount

LIKE_ESCAPE = "\\"
# Bidirectional embeddings and overrides (U+202A-U+202E), isolates (U+2066-U+2069) and the C0 controls but tab,
# line feed and carriage return (a browser's textarea sends CRLF): "Trojan Source" names and invisible text.
_HIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\u202a-\u202e\u2066-\u2069]")
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
S = TypeVar("S", bound=msgspec.Struct)


def check_ref(errors: FieldErrors, field: str, ref: str) -> str:
    if not _REF.match(ref):
        errors.add(field, "a ref is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return ref


def hidden_character(value: str) -> str | None:
    """Why the text cannot be taken when it holds a character that hides or reorders what a reader sees
    (bidirectional overrides and isolates, C0 controls but tab and line breaks), else None."""
    if match := _HIDDEN.search(value):
        return f"must not contain the control character U+{ord(match.group()):04X}"
    return None


def check_text(errors: FieldErrors, field: str, value: str, max_len: int, *, required: bool = True) -> str:
    """The text stripped, or the reason it cannot be taken recorded against the field."""
    value = value.strip()
    if required and not value:
        errors.add(field, "must not be empty")
    elif len(value) > max_len:
        errors.add(field, f"at most {max_len} characters")
    elif reason := hidden_character(value):
        errors.add(field, reason)
    return value


def check_dates(errors: FieldErrors, data: object, *fields: str) -> None:
    """Each named date (or timestamp) of the request that is set must fall in the registry's range of dates
    (registry.dates): year 1 or 9999 is a typing error, and overflows as soon as days are added to it."""
    for field in fields:
        value = getattr(data, field, None)
        if isinstance(value, date | datetime) and (reason := dates.out_of_range(value)):
            errors.add(field, reason)


def check_currency(errors: FieldErrors, field: str, currency: str) -> str | None:
    """The currency, or None with the reason recorded (amounts in it then go unchecked: their digits are unknown)."""
    try:
        minor_digits(currency)
    except MoneyError as exc:
        errors.add(field, str(exc))
        return None
    return currency


def check_amount(errors: FieldErrors, field: str, text: str | None, currency: str | None) -> int | None:
    """The amount in minor units, or None with the reason recorded against the field (and None when no
    amount or no currency was given: the caller reports a missing currency itself)."""
    if text is None or currency is None:
        return None
    try:
        return parse_amount(text, currency)
    except MoneyError as exc:
        errors.add(field, str(exc))
        return None


async def row_or_404(query: Any, entity: str, ref: str | int) -> dict[str, Any]:
    """The one row a select names (by ref or id), or NotFoundError naming the entity."""
    row = await query.first()
    if row is None:
        raise NotFoundError(entity, ref)
    return dict(row)


def read_model(schema: type[S], row: Mapping[str, Any], **computed: Any) -> S:
    """The schema's fields taken from the row by name, except those computed by the caller."""
    return schema(**{f: row[f] for f in schema.__struct_fields__ if f not in computed}, **computed)


def audit_view(row: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """What an audit event keeps of a row: the named fields (None for one not read)."""
    return {f: row.get(f) for f in fields}


async def record_update(
    actor: str, entity: str, ref: str, before: Mapping[str, Any], after: Mapping[str, Any], fields: Iterable[str]
) -> None:
    """The audit event of an update: the audited fields of the row before and after it."""
    fields = tuple(fields)
    await audit.record(actor, entity, ref, "update", before=audit_view(before, fields), after=audit_view(after, fields))


def _ref_column(table: type[Table]) -> Any:
    return cast(Any, table).ref


async def id_for_ref(table: type[Table], ref: str, entity: str, field: str | None = None) -> int:
    row = await table.select(table._meta.primary_key).where(_ref_column(table) == ref).first()
    if row is None:
        raise NotFoundError(entity, ref, field)
    return int(row["id"])


async def lock_by_ref(table: type[Table], ref: str, entity: str) -> int:
    """Lock the row named by ref for the rest of the transaction, so what is read next is what is changed."""
    row_id = await id_for_ref(table, ref, entity)
    await lock_row(table, row_id)
    return row_id


async def ensure_ref_free(table: type[Table], ref: str, entity: str) -> None:
    if await table.exists().where(_ref_column(table) == ref):
        raise StateConflictError(f"a {entity} with ref {ref!r} already exists")


def set_fields(update: msgspec.Struct) -> dict[Any, Any]:
    """The fields a PATCH body actually carries."""
    return {f: v for f in update.__struct_fields__ if (v := getattr(update, f)) is not msgspec.UNSET}


class _LikeEscaped(ComparisonOperator):
    template = "{name} LIKE {value} ESCAPE '" + LIKE_ESCAPE + "'"


class _ILikeEscaped(ComparisonOperator):
    template = "{name} ILIKE {value} ESCAPE '" + LIKE_ESCAPE + "'"


def like_literal(text: str) -> str:
    """The text with LIKE's wildcards (`%`, `_`) and the escape character itself escaped, so it matches only
    itself."""
    return "".join(LIKE_ESCAPE + ch if ch in ("%", "_", LIKE_ESCAPE) else ch for ch in text)


def actual_changes(before: Mapping[str, Any], changes: Mapping[Any, Any]) -> dict[Any, Any]:
    """The checked changes of a write that differ from the row as it is: a write of the same values changes
    nothing, so it writes nothing and records no audit event."""
    return {field: value for field, value in changes.items() if before.get(field) != value}


def contains(column: Any, text: str) -> Any:
    """Case-insensitive substring match of the text as typed (`%` and `_` are not wildcards): ILIKE on
    PostgreSQL; SQLite's LIKE already ignores ASCII case. Both with an ESCAPE clause."""
    pattern = f"%{like_literal(text)}%"
    return Where(column=column, value=pattern, operator=_ILikeEscaped if is_postgres() else _LikeEscaped)
