"""The roles of DESIGN section 1 and which of them may do what. Pure data."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    ASSET_MANAGER = "asset_manager"
    CREDIT_OFFICER = "credit_officer"
    DISPOSAL_OFFICER = "disposal_officer"
    BIDDER = "bidder"
    AUDITOR = "auditor"


ALL_ROLES = frozenset(Role)

# Bank staff and auditors read the registry; bidders are outsiders and see only public auctions.
REGISTRY_READERS = frozenset({Role.ADMIN, Role.ASSET_MANAGER, Role.CREDIT_OFFICER, Role.DISPOSAL_OFFICER, Role.AUDITOR})
COLLATERAL_WRITERS = frozenset({Role.ADMIN, Role.ASSET_MANAGER})
LOAN_WRITERS = frozenset({Role.ADMIN, Role.CREDIT_OFFICER})
EVIDENCE_WRITERS = frozenset({Role.ADMIN, Role.ASSET_MANAGER, Role.CREDIT_OFFICER, Role.DISPOSAL_OFFICER})
AUDIT_READERS = frozenset({Role.ADMIN, Role.AUDITOR})
ADMINS = frozenset({Role.ADMIN})
# Stress scenarios and restructuring what-ifs write nothing but compute the whole book twice: the credit
# officers who test restructurings, the asset managers who own the values, and admins.
SCENARIO_RUNNERS = frozenset({Role.ADMIN, Role.CREDIT_OFFICER, Role.ASSET_MANAGER})
# Identity numbers of parties are personal data: shown whole only to these.
PII_READERS = frozenset({Role.ADMIN, Role.AUDITOR})
