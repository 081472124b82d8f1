"""Bulk import over HTTP: the same files and the same all-or-nothing pipeline as `collateral import`."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from litestar import Controller, Request, post
from litestar.datastructures import UploadFile
from litestar.params import MultipartBody
from litestar.plugins.problem_details import ProblemDetailsException

from registry.auth import roles
from registry.bulk.files import FORMATS
from registry.bulk.limits import upload_limits
from registry.bulk.pipeline import MAX_SHOWN_ERRORS, ImportRefused, import_book
from registry.errors import InvalidInputError
from registry.roles import ADMINS
from registry.schemas.misc import ImportSummary, UserRead
from registry.spool import save_upload

MAX_BOOK_BYTES = 2 * 1024**3


class ImportController(Controller):
    path = "/api/imports"
    tags = ["imports"]

    @post(operation_id="ImportBook", name="imports:create", opt=roles(ADMINS), request_max_body_size=MAX_BOOK_BYTES)
    async def import_book(
        self, request: Request[UserRead, Any, Any], data: MultipartBody[dict[str, Any]]
    ) -> ImportSummary:
        """Upload any of the seven book files (parties, loans, assets, policies, valuations, liens,
        lien_loans) as .csv or .parquet; every file is checked before anything is written. A file over the
        row or decompressed-size bound (COLLATERAL_UPLOAD_MAX_ROWS, COLLATERAL_UPLOAD_MAX_BYTES) is 413."""
        names = {f.name for f in request.app.state.book_files()}
        # Files may come one per field or several under one field name (a list).
        values = [v for value in (data or {}).values() for v in (value if isinstance(value, list) else [value])]
        uploads = [u for u in values if isinstance(u, UploadFile)]
        if not uploads:
            raise InvalidInputError.one("files", "attach at least one book file, e.g. loans.csv")
        with tempfile.TemporaryDirectory(prefix="collateral-import-") as tmp:
            for upload in uploads:
                filename = Path(upload.filename or "").name
                stem, _, suffix = filename.partition(".")
                if stem not in names or suffix not in FORMATS:
                    raise InvalidInputError.one(
                        filename or "files", f"expected one of {', '.join(sorted(names))} as .csv or .parquet"
                    )
                await save_upload(upload, Path(tmp) / filename)
            try:
                result = await import_book(
                    Path(tmp), request.app.state.book_files(), request.user.username, upload_limits()
                )
            except ImportRefused as refused:
                shown = refused.errors.head(MAX_SHOWN_ERRORS).to_dicts()
                raise ProblemDetailsException(
                    status_code=422,
                    title="Import refused",
                    detail=f"{refused.errors.height} errors; nothing was written",
                    extra={"error_count": refused.errors.height, "errors": shown},
                ) from None
        return ImportSummary(files=result.files)
