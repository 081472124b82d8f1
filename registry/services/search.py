"""One search box over the registry: parties, loans, assets and liens whose ref, name, identifier or lien holder
holds the text typed, case-insensitively, with `%` and `_` taken literally (common.contains)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from registry.roles import PII_READERS, Role
from registry.services import common
from registry.services.parties import mask_id_number
from registry.tables import Asset, Lien, Loan, Party

LIMIT = 20  # per kind of record: a search box finds a record, it is not a list to page through
# Asset identifiers are stored as one JSON text, so a text that is only a key ("vin") matches every vehicle:
# this many candidates are read and kept only when a value, not a key, holds the text.
_IDENTIFIER_CANDIDATES = 500
MAX_QUERY = 100


@dataclass(frozen=True, slots=True)
class Hit:
    ref: str
    title: str
    detail: str
    matched: str  # which field held the text, in the page's words


@dataclass
class Found:
    """Each kind's hits, exact ref matches first, then by ref; `more` when there were more than LIMIT."""

    parties: list[Hit] = field(default_factory=list)
    loans: list[Hit] = field(default_factory=list)
    assets: list[Hit] = field(default_factory=list)
    liens: list[Hit] = field(default_factory=list)
    more: set[str] = field(default_factory=set)

    @property
    def count(self) -> int:
        return len(self.parties) + len(self.loans) + len(self.assets) + len(self.liens)


def _words(code: str) -> str:
    """A vocabulary code as a reader says it: "non_performing" -> "Non performing"."""
    return code.replace("_", " ").capitalize()


def _has(value: str | None, text: str) -> bool:
    return bool(value) and text.casefold() in str(value).casefold()


def _ordered(hits: list[Hit], text: str) -> list[Hit]:
    folded = text.casefold()
    return sorted(hits, key=lambda h: (h.ref.casefold() != folded, h.ref))


def _cut(found: Found, kind: str, hits: list[Hit], text: str) -> list[Hit]:
    if len(hits) > LIMIT:
        found.more.add(kind)
    return _ordered(hits, text)[:LIMIT]


async def _parties(text: str, role: Role) -> list[Hit]:
    # Identity numbers are personal data: a role that sees them masked cannot find a party by them either,
    # or typing digits one by one would reveal them.
    by_id = role in PII_READERS
    where = common.contains(Party.ref, text) | common.contains(Party.name, text)
    if by_id:
        where = where | common.contains(Party.id_number, text)
    rows = await Party.select().where(where).order_by(Party.ref).limit(LIMIT + 1)
    hits = []
    for r in rows:
        matched = "ref" if _has(r["ref"], text) else "name" if _has(r["name"], text) else "identity number"
        shown = mask_id_number(r["id_number"], role)
        hits.append(Hit(r["ref"], r["name"], _words(r["kind"]) + (f" · {shown}" if shown else ""), matched))
    return hits


async def _loans(text: str) -> list[Hit]:
    rows = (
        await Loan.select(Loan.ref, Loan.currency, Loan.status, Loan.borrower.name.as_alias("borrower_name"))
        .where(common.contains(Loan.ref, text))
        .order_by(Loan.ref)
        .limit(LIMIT + 1)
    )
    return [Hit(r["ref"], r["borrower_name"], f"{r['currency']} · {_words(r['status'])}", "ref") for r in rows]


def _asset_hit(r: dict[str, object], text: str) -> Hit | None:
    identifiers = json.loads(str(r["identifiers"] or "{}"))
    for name, value in (("ref", r["ref"]), ("description", r["description"]), ("address", r["address"])):
        if _has(str(value or ""), text):
            return Hit(str(r["ref"]), str(r["description"]), f"{_words(str(r['kind']))} · {r['owner_name']}", name)
    for key, value in sorted(identifiers.items()):
        if _has(str(value), text):
            detail = f"{_words(str(r['kind']))} · {_words(key)}: {value}"
            return Hit(str(r["ref"]), str(r["description"]), detail, "identifier")
    return None


async def _assets(text: str) -> list[Hit]:
    columns = (Asset.ref, Asset.kind, Asset.description, Asset.address, Asset.identifiers)
    owner = Asset.owner.name.as_alias("owner_name")
    plain = common.contains(Asset.ref, text) | common.contains(Asset.description, text)
    plain = plain | common.contains(Asset.address, text)
    rows = await Asset.select(*columns, owner).where(plain).order_by(Asset.ref).limit(LIMIT + 1)
    by_identifier = (
        await Asset.select(*columns, owner)
        .where(common.contains(Asset.identifiers, text))
        .order_by(Asset.ref)
        .limit(_IDENTIFIER_CANDIDATES)
    )
    hits: dict[str, Hit] = {}
    for r in [*rows, *by_identifier]:
        if r["ref"] not in hits and (hit := _asset_hit(r, text)):
            hits[hit.ref] = hit
    return list(hits.values())


async def _liens(text: str) -> list[Hit]:
    where = common.contains(Lien.ref, text) | common.contains(Lien.holder, text)
    where = where | common.contains(Lien.registration_number, text)
    rows = (
        await Lien.select(
            Lien.ref, Lien.kind, Lien.holder, Lien.status, Lien.registration_number, Lien.asset.ref.as_alias("asset")
        )
        .where(where)
        .order_by(Lien.ref)
        .limit(LIMIT + 1)
    )
    hits = []
    for r in rows:
        matched = "ref" if _has(r["ref"], text) else "holder" if _has(r["holder"], text) else "registration number"
        holder = "Own (this bank)" if r["holder"] == "own" else r["holder"]
        hits.append(Hit(r["ref"], f"{_words(r['kind'])} on {r['asset']}", f"{holder} · {_words(r['status'])}", matched))
    return hits


async def search(text: str, role: Role) -> Found:
    """Everything the text finds, up to LIMIT of each kind; nothing for a blank text."""
    text = text.strip()[:MAX_QUERY]
    found = Found()
    if not text:
        return found
    found.parties = _cut(found, "parties", await _parties(text, role), text)
    found.loans = _cut(found, "loans", await _loans(text), text)
    found.assets = _cut(found, "assets", await _assets(text), text)
    found.liens = _cut(found, "liens", await _liens(text), text)
    return found
