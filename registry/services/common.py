"""Helpers shared by the registry's services."""

from __future__ import annotations

import re
from typing import Any, cast

import msgspec
from piccolo.table import Table

from registry.db import is_postgres, lock_row
from registry.errors import FieldErrors, InvalidInputError, NotFoundError, StateConflictError
from registry.money import MoneyError, parse_amount

_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_ref(field: str, ref: str) -> str:
    if not _REF.match(ref):
        raise InvalidInputError.one(
            field, "a ref is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return ref


def check_text(field: str, value: str, max_len: int, *, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        raise InvalidInputError.one(field, "must not be empty")
    if len(value) > max_len:
        raise InvalidInputError.one(field, f"at most {max_len} characters")
    return value


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


def contains(column: Any, text: str) -> Any:
    """Case-insensitive substring match: ILIKE on PostgreSQL; SQLite's LIKE already ignores ASCII case."""
    pattern = f"%{text}%"
    return column.ilike(pattern) if is_postgres() else column.like(pattern)


def amount_or_error(errors: FieldErrors, field: str, text: str | None, currency: str | None) -> int | None:
    """The amount in minor units, or None with the reason recorded against the field (and None when no
    amount or no currency was given: the caller reports a missing currency itself)."""
    if text is None or currency is None:
        return None
    try:
        return parse_amount(text, currency)
    except MoneyError as exc:
        errors.add(field, str(exc))
        return None
