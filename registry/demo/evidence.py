"""Evidence files for the demo book: registration certificates, court rulings, a contract, notices, an appraisal."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from registry.demo.plans import ANCHOR, CHINA_TZ, DemoBook, DocumentPlan
from registry.money import format_amount


def _pdf_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def small_pdf(title: str, lines: list[str]) -> bytes:
    """A one-page PDF (Helvetica, ASCII text) with a correct cross-reference table."""
    body = ["BT /F1 14 Tf 56 780 Td 16 TL", f"({_pdf_text(title)}) Tj /F1 10 Tf T* T*"]
    body += [f"({_pdf_text(line)}) Tj T*" for line in lines]
    stream = "\n".join([*body, "ET"]).encode("ascii", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _money(units: int, currency: str) -> str:
    return f"{currency} {Decimal(format_amount(units, currency)):,}"  # exact, in the currency's own digits


def plan_documents(book: DemoBook) -> list[DocumentPlan]:
    party = {p.ref: p for p in book.parties}
    asset = {a.ref: a for a in book.assets}
    docs: list[DocumentPlan] = []
    certified = [
        lien
        for lien in book.liens
        if lien.holder == "own" and lien.status == "registered" and asset[lien.asset_ref].kind == "real_estate"
    ]
    for lien in certified[:3]:
        perfected = lien.perfected_at
        assert perfected is not None
        pdf = small_pdf(
            "Certificate of Real Estate Mortgage Registration",
            [
                f"Lien: {lien.ref}   Asset: {lien.asset_ref}",
                f"Registered: {perfected.astimezone(CHINA_TZ):%Y-%m-%d %H:%M} (Beijing time)",
                f"Secured loans: {', '.join(lien.loan_refs)}",
                f"Authority: {lien.authority}",
            ],
        )
        docs.append(
            DocumentPlan(
                "lien", lien.ref, f"mortgage-registration-{lien.ref}.pdf", "application/pdf", pdf, "asset_manager"
            )
        )
    for a in [a for a in book.assets if a.status == "seized"][:2]:
        docs.append(
            DocumentPlan(
                "asset",
                a.ref,
                f"court-seizure-ruling-{a.ref}.pdf",
                "application/pdf",
                small_pdf(
                    "Civil Ruling on Property Preservation (seizure)",
                    [
                        f"Asset: {a.ref} ({a.kind})",
                        f"Description: {a.description}",
                        "The court orders the asset sealed up for a term of three years.",
                        f"Served on the lending bank on {ANCHOR - timedelta(days=45):%Y-%m-%d}.",
                    ],
                ),
                "disposal_officer",
            )
        )
    for a in [a for a in book.assets if a.status == "in_disposal"][:1]:
        text = (
            f"Appraisal report for {a.ref}\nOwner: {party[a.owner_ref].name} ({a.owner_ref})\n"
            f"Description: {a.description}\nAddress: {a.address}\nValuation date: {ANCHOR:%Y-%m-%d}\n"
            "Method: market comparison; forced-sale discount applied for judicial auction.\n"
        )
        docs.append(
            DocumentPlan(
                "asset",
                a.ref,
                f"appraisal-report-{a.ref}.txt",
                "text/plain; charset=utf-8",
                text.encode(),
                "disposal_officer",
            )
        )
    for loan in [ln for ln in book.loans if ln.status == "non_performing"][:2]:
        borrower = party[loan.borrower_ref]
        docs.append(
            DocumentPlan(
                "loan",
                loan.ref,
                f"loan-contract-{loan.ref}.pdf",
                "application/pdf",
                small_pdf(
                    "Fixed Asset Loan Contract (extract)",
                    [
                        f"Loan: {loan.ref}   Borrower: {loan.borrower_ref}",
                        f"Principal: {_money(loan.principal, loan.currency)}",
                        f"Drawdown: {loan.disbursed_on:%Y-%m-%d}   Maturity: {loan.maturity:%Y-%m-%d}",
                        f"Contract rate: {loan.interest_rate}; default interest at 150% of the contract rate.",
                    ],
                ),
                "credit_officer",
            )
        )
        notice = (
            f"催收通知书 / Demand notice\nTo: {borrower.name} ({borrower.ref})\nLoan {loan.ref} is in default. "
            f"Repay the outstanding principal, interest and default interest within 15 days of {ANCHOR}.\n"
        )
        docs.append(
            DocumentPlan(
                "loan",
                loan.ref,
                f"demand-notice-{loan.ref}.txt",
                "text/plain; charset=utf-8",
                notice.encode(),
                "credit_officer",
            )
        )
    for p in [p for p in book.parties if p.status == "bankrupt"][:1]:
        docs.append(
            DocumentPlan(
                "party",
                p.ref,
                f"bankruptcy-acceptance-{p.ref}.pdf",
                "application/pdf",
                small_pdf(
                    "Civil Ruling Accepting a Bankruptcy Petition",
                    [
                        f"Debtor: {p.ref}",
                        f"Petition accepted on {ANCHOR - timedelta(days=120):%Y-%m-%d}.",
                        "Creditors shall declare their claims to the administrator within 60 days.",
                    ],
                ),
                "credit_officer",
            )
        )
    return docs
