"""Evidence files, stored content-addressed: the path is the sha256 of the bytes, so a stored file is
never overwritten and the same file uploaded twice is kept once."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from registry import audit, clock
from registry.config import get_settings
from registry.db import write_transaction
from registry.errors import InvalidInputError, NotFoundError
from registry.schemas.common import Page, Paging
from registry.schemas.misc import DocumentRead
from registry.services.common import read_model, row_or_404
from registry.tables import Asset, Document, Lien, Loan, Party

ENTITY_TABLES: dict[str, Any] = {"party": Party, "loan": Loan, "asset": Asset, "lien": Lien}
MAX_BYTES = 50 * 1024 * 1024


def blob_path(sha256: str, root: Path | None = None) -> Path:
    root = root or get_settings().documents_dir
    return root / sha256[:2] / sha256[2:]


def _store(content: bytes, sha256: str) -> None:
    path = blob_path(sha256)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written to a temporary file then renamed, so a crash never leaves a half file under a real hash.
    fd, tmp = tempfile.mkstemp(dir=path.parent)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


async def upload(
    entity: str, entity_ref: str, filename: str, content_type: str, content: bytes, actor: str
) -> DocumentRead:
    table = ENTITY_TABLES.get(entity)
    if table is None:
        raise InvalidInputError.one("entity", f"must be one of {', '.join(ENTITY_TABLES)}")
    if not content:
        raise InvalidInputError.one("file", "the file is empty")
    if len(content) > MAX_BYTES:
        raise InvalidInputError.one("file", f"larger than {MAX_BYTES // (1024 * 1024)} MiB")
    filename = (os.path.basename(filename or "") or "document")[:255]
    sha256 = hashlib.sha256(content).hexdigest()
    async with write_transaction():
        if not await table.exists().where(table.ref == entity_ref):
            raise NotFoundError(entity, entity_ref, "entity_ref")
        # The blob goes to disk before the row commits; an orphan blob from a rolled-back upload is
        # harmless (content-addressed, re-used by the next upload of the same bytes).
        _store(content, sha256)
        row: dict[str, Any] = {
            "sha256": sha256,
            "filename": filename,
            "content_type": content_type[:128],
            "size": len(content),
            "entity": entity,
            "entity_ref": entity_ref,
            "uploaded_by": actor,
            "uploaded_at": clock.now(),
        }
        result = await Document.insert(Document(**row)).returning(Document.id)
        row["id"] = result[0]["id"]
        await audit.record(
            actor,
            entity,
            entity_ref,
            "document:attach",
            after={"document_id": row["id"], "sha256": sha256, "filename": filename, "size": len(content)},
        )
    return read_model(DocumentRead, row)


async def get_document(document_id: int) -> DocumentRead:
    return read_model(
        DocumentRead, await row_or_404(Document.select().where(Document.id == document_id), "document", document_id)
    )


async def read_content(document_id: int) -> tuple[DocumentRead, bytes]:
    doc = await get_document(document_id)
    content = blob_path(doc.sha256).read_bytes()
    if hashlib.sha256(content).hexdigest() != doc.sha256:
        # Evidence that does not match its hash is not evidence; refuse rather than serve it.
        raise RuntimeError(f"stored content of document {document_id} does not match its sha256")
    return doc, content


async def documents_of(entity: str, refs: list[str]) -> dict[str, list[DocumentRead]]:
    """The documents of several records of one kind, in one read, by ref in upload order."""
    out: dict[str, list[DocumentRead]] = {}
    if refs:
        rows = await Document.select().where((Document.entity == entity) & Document.entity_ref.is_in(refs))
        for row in sorted(rows, key=lambda r: r["id"]):
            out.setdefault(row["entity_ref"], []).append(read_model(DocumentRead, row))
    return out


async def list_documents(
    paging: Paging, *, entity: str | None = None, entity_ref: str | None = None
) -> Page[DocumentRead]:
    where = []
    if entity:
        where.append(Document.entity == entity)
    if entity_ref:
        where.append(Document.entity_ref == entity_ref)
    total = await Document.count().where(*where)
    rows = await Document.select().where(*where).order_by(Document.id).limit(paging.page_size).offset(paging.offset)
    return Page([read_model(DocumentRead, r) for r in rows], total, paging.page, paging.page_size)
