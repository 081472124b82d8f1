from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromQuery, MultipartBody

from registry.auth import roles
from registry.controllers.params import RowId
from registry.downloads import content_disposition
from registry.edge import MiB
from registry.errors import InvalidInputError
from registry.roles import EVIDENCE_WRITERS, REGISTRY_READERS
from registry.schemas.common import Page, Paging
from registry.schemas.misc import DocumentRead, EntityKind, UserRead
from registry.services import documents

# The file may be MAX_BYTES (50 MiB); the multipart framing and the two form fields around it need a little more.
UPLOAD_BODY_LIMIT = documents.MAX_BYTES + 1 * MiB


class DocumentController(Controller):
    path = "/api/documents"
    tags = ["documents"]

    @post(
        operation_id="UploadDocument",
        name="documents:upload",
        opt=roles(EVIDENCE_WRITERS),
        request_max_body_size=UPLOAD_BODY_LIMIT,
    )
    async def upload_document(
        self,
        request: Request[UserRead, Any, Any],
        data: MultipartBody[dict[str, Any]],
    ) -> DocumentRead:
        upload = data.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInputError.one("file", "attach the file as the multipart field 'file'")
        entity, entity_ref = data.get("entity"), data.get("entity_ref")
        if not isinstance(entity, str) or not isinstance(entity_ref, str) or not entity_ref:
            raise InvalidInputError.one(
                "entity" if not isinstance(entity, str) else "entity_ref", "required form field"
            )
        content = await upload.read()
        return await documents.upload(
            entity,
            entity_ref,
            upload.filename,
            upload.content_type or "application/octet-stream",
            content,
            request.user.username,
        )

    @get(operation_id="ListDocuments", name="documents:list", opt=roles(REGISTRY_READERS))
    async def list_documents(
        self,
        paging: NamedDependency[Paging],
        entity: FromQuery[EntityKind | None] = None,
        entity_ref: FromQuery[str | None] = None,
    ) -> Page[DocumentRead]:
        return await documents.list_documents(paging, entity=entity, entity_ref=entity_ref)

    @get("/{document_id:int}", operation_id="GetDocument", name="documents:get", opt=roles(REGISTRY_READERS))
    async def get_document(self, document_id: RowId) -> DocumentRead:
        return await documents.get_document(document_id)

    @get(
        "/{document_id:int}/content",
        operation_id="DownloadDocument",
        name="documents:download",
        opt=roles(REGISTRY_READERS),
        media_type="application/octet-stream",
    )
    async def download_document(self, document_id: RowId) -> Response[bytes]:
        doc, content = await documents.read_content(document_id)
        return Response(
            content,
            media_type=doc.content_type,
            headers={"Content-Disposition": content_disposition(doc.filename), "ETag": f'"{doc.sha256}"'},
        )
