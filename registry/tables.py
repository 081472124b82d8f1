"""The registry's tables. Money is BigInt minor units beside a currency code; JSON is kept as text so
that what is hashed into the audit log is exactly what is stored."""

from __future__ import annotations

from piccolo.columns import (
    BigInt,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    Serial,
    SmallInt,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class AppUser(Table, tablename="app_user"):
    id = Serial(primary_key=True)
    username = Varchar(length=64, unique=True)
    password_hash = Text()
    role = Varchar(length=32)
    active = Boolean(default=True)
    created_at = Timestamptz()


class Party(Table):
    id = Serial(primary_key=True)
    ref = Varchar(length=64, unique=True)  # type: ignore[assignment]  # shadows Table.ref(), unused
    name = Varchar(length=255)  # searched by substring, which a b-tree cannot serve
    kind = Varchar(length=16)
    id_number = Varchar(length=64, null=True, default=None)
    status = Varchar(length=16, default="normal")
    created_at = Timestamptz()


class Loan(Table):
    id = Serial(primary_key=True)
    ref = Varchar(length=64, unique=True)  # type: ignore[assignment]  # shadows Table.ref(), unused
    borrower = ForeignKey(references=Party, index=True)
    currency = Varchar(length=3)
    status = Varchar(length=20, default="performing")
    classification = Varchar(length=20, default="pass")
    interest_rate = Varchar(length=16, null=True, default=None)  # decimal string, e.g. "0.0435"
    maturity = Date(null=True, default=None)
    created_at = Timestamptz()


class Posting(Table):
    """One line of a loan's append-only ledger: signed deltas of the four balance components."""

    id = Serial(primary_key=True)
    loan = ForeignKey(references=Loan, index=True)
    kind = Varchar(length=24)
    principal = BigInt(default=0)
    interest = BigInt(default=0)
    penalty = BigInt(default=0)
    fees = BigInt(default=0)
    value_date = Date()
    memo = Varchar(length=255, default="")
    reverses = Integer(null=True, default=None, index=True)  # id of the posting this one reverses
    posted_by = Varchar(length=64)
    posted_at = Timestamptz()


class Asset(Table):
    id = Serial(primary_key=True)
    ref = Varchar(length=64, unique=True)  # type: ignore[assignment]  # shadows Table.ref(), unused
    kind = Varchar(length=24)
    owner = ForeignKey(references=Party, index=True)
    description = Text(default="")
    address = Text(default="")
    identifiers = Text(default="{}")  # JSON object: certificate_no, vin, serial_no, ...
    geometry = Text(null=True, default=None)  # GeoJSON Polygon / MultiPolygon
    # Derived from the geometry when it is written (geodesic, WGS84), so region and point queries
    # can prefilter in SQL by bounding box and centroid without parsing every parcel.
    parcel_area_m2 = Float(null=True, default=None)
    parcel_perimeter_m = Float(null=True, default=None)
    centroid_lon = Float(null=True, default=None)
    centroid_lat = Float(null=True, default=None)
    bbox_min_lon = Float(null=True, default=None, index=True)
    bbox_min_lat = Float(null=True, default=None)
    bbox_max_lon = Float(null=True, default=None)
    bbox_max_lat = Float(null=True, default=None)
    status = Varchar(length=20, default="active")
    created_at = Timestamptz()


class ParcelOverlap(Table, tablename="parcel_overlap"):
    """Two parcels drawn over each other by more than the threshold share: a possible double pledge.

    Stored with asset_a.id < asset_b.id, one row per pair; rebuilt for a parcel whenever it changes."""

    id = Serial(primary_key=True)
    asset_a = ForeignKey(references=Asset, index=True)
    asset_b = ForeignKey(references=Asset, index=True)
    overlap_area_m2 = Float()
    share_of_a = Float()  # overlap / area of a
    share_of_b = Float()
    detected_at = Timestamptz()


class Lien(Table):
    id = Serial(primary_key=True)
    ref = Varchar(length=64, unique=True)  # type: ignore[assignment]  # shadows Table.ref(), unused
    asset = ForeignKey(references=Asset, index=True)
    kind = Varchar(length=24)
    holder = Varchar(length=255, default="own")  # "own" or the other creditor's name
    currency = Varchar(length=3)
    cap = BigInt(null=True, default=None)
    external_claim = BigInt(null=True, default=None)
    authority = Varchar(length=255, default="")
    registration_number = Varchar(length=128, default="")
    status = Varchar(length=16, default="draft")
    perfected_at = Timestamptz(null=True, default=None)
    expires_on = Date(null=True, default=None)
    created_at = Timestamptz()


class LienLoan(Table, tablename="lien_loan"):
    id = Serial(primary_key=True)
    lien = ForeignKey(references=Lien)  # led by the unique (lien, loan) index
    loan = ForeignKey(references=Loan, index=True)


class Document(Table):
    id = Serial(primary_key=True)
    sha256 = Varchar(length=64, index=True)
    filename = Varchar(length=255)
    content_type = Varchar(length=128)
    size = BigInt()
    entity = Varchar(length=16)
    entity_ref = Varchar(length=64, index=True)
    uploaded_by = Varchar(length=64)
    uploaded_at = Timestamptz()


class AuditEvent(Table, tablename="audit_event"):
    id = Serial(primary_key=True)
    seq = BigInt(unique=True)
    at = Timestamptz()
    actor = Varchar(length=64)
    entity = Varchar(length=16)
    entity_ref = Varchar(length=64, index=True)
    action = Varchar(length=32)
    before = Text(null=True, default=None)
    after = Text(null=True, default=None)
    prev_hash = Varchar(length=64)
    hash = Varchar(length=64)
    # registry.audit: 1 plain SHA-256 (events from before keyed hashes, hence the default for old rows), 2 HMAC.
    hash_version = SmallInt(default=1)


TABLES: list[type[Table]] = [AppUser, Party, Loan, Posting, Asset, ParcelOverlap, Lien, LienLoan, Document, AuditEvent]
