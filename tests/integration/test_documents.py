from __future__ import annotations

import hashlib

import pytest

from registry.roles import Role
from registry.services.documents import blob_path
from tests.integration.factory import Book

pytestmark = pytest.mark.integration


@pytest.fixture
async def book(client, as_role) -> Book:
    b = Book(client, as_role)
    await b.party("P1")
    await b.asset("A1")
    return b


async def _upload(client, headers, content: bytes, name: str = "deed.pdf", entity: str = "asset", ref: str = "A1"):
    return await client.post(
        "/api/documents",
        files={"file": (name, content, "application/pdf")},
        data={"entity": entity, "entity_ref": ref},
        headers=headers,
    )


async def test_upload_is_content_addressed_and_downloads_identically(client, as_role, book: Book) -> None:
    content = b"%PDF-1.4 property certificate scan " * 100
    digest = hashlib.sha256(content).hexdigest()
    first = await _upload(client, as_role(Role.ASSET_MANAGER), content)
    assert first.status_code == 201, first.text
    assert first.json()["sha256"] == digest
    assert first.json()["size"] == len(content)
    second = await _upload(client, as_role(Role.DISPOSAL_OFFICER), content, name="copy.pdf")
    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]
    assert blob_path(digest).read_bytes() == content
    download = await client.get(f"/api/documents/{first.json()['id']}/content", headers=as_role(Role.AUDITOR))
    assert download.status_code == 200
    assert download.content == content
    assert 'filename="deed.pdf"' in download.headers["content-disposition"]
    listed = (await client.get("/api/documents?entity=asset&entity_ref=A1", headers=as_role(Role.AUDITOR))).json()
    assert listed["total"] == 2
    assert {d["uploaded_by"] for d in listed["items"]} == {"asset_manager1", "disposal_officer1"}


async def test_stored_blob_altered_on_disk_is_not_served(client, as_role, book: Book) -> None:
    doc = (await _upload(client, as_role(Role.ASSET_MANAGER), b"original evidence")).json()
    blob_path(doc["sha256"]).write_bytes(b"forged evidence")
    r = await client.get(f"/api/documents/{doc['id']}/content", headers=as_role(Role.AUDITOR))
    assert r.status_code == 500
    assert "forged" not in r.text
    blob_path(doc["sha256"]).write_bytes(b"original evidence")


@pytest.mark.parametrize(
    ("kwargs", "status", "field"),
    [
        ({"content": b""}, 422, "file"),
        ({"content": b"x", "entity": "planet"}, 422, "entity"),
        ({"content": b"x", "ref": "NOPE"}, 404, "entity_ref"),
    ],
)
async def test_bad_uploads_refused_nothing_recorded(client, as_role, book: Book, kwargs, status, field) -> None:
    r = await _upload(client, as_role(Role.ASSET_MANAGER), **kwargs)
    assert r.status_code == status, r.text
    problem = r.json()
    assert problem.get("field") == field or any(e["field"] == field for e in problem.get("errors", []))
    listed = (await client.get("/api/documents", headers=as_role(Role.AUDITOR))).json()
    assert listed["total"] == 0


async def test_unknown_document_is_404(client, as_role, book: Book) -> None:
    assert (await client.get("/api/documents/999", headers=as_role(Role.AUDITOR))).status_code == 404
    assert (await client.get("/api/documents/999/content", headers=as_role(Role.AUDITOR))).status_code == 404


@pytest.mark.parametrize("name", ["抵押合同.pdf", "deed 📄 scan.pdf", "📄"])
async def test_non_latin_file_name_downloads_with_rfc_6266_header(client, as_role, book: Book, name: str) -> None:
    from urllib.parse import quote

    doc = await _upload(client, as_role(Role.ASSET_MANAGER), b"%PDF-1.4 contract", name=name)
    assert doc.status_code == 201, doc.text
    r = await client.get(f"/api/documents/{doc.json()['id']}/content", headers=as_role(Role.AUDITOR))
    assert r.status_code == 200, r.text
    header = r.headers["content-disposition"]
    assert header.isascii()
    assert header.startswith('attachment; filename="') and header.count('"') == 2
    assert f"filename*=UTF-8''{quote(name, safe='')}" in header
    assert r.content == b"%PDF-1.4 contract"
