"""Evidence named by a disposal step (an offer letter, an expense invoice) must exist as stored documents."""

from __future__ import annotations

from collections.abc import Sequence

from registry.errors import FieldErrors
from registry.tables import Document


async def check_documents(named: Sequence[tuple[str, Sequence[int]]], errors: FieldErrors) -> None:
    """(field, document ids) pairs; every id that names no document is reported against its field."""
    wanted = {d for _, ids in named for d in ids}
    if not wanted:
        return
    found = {r["id"] for r in await Document.select(Document.id).where(Document.id.is_in(sorted(wanted)))}
    for field, ids in named:
        missing = [d for d in ids if d not in found]
        if missing:
            errors.add(field, f"no document with id {missing[0]}")
