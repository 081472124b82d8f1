"""A hand-made book small enough to read, with one of every awkward case the import must carry."""

from __future__ import annotations

from pathlib import Path

FILES = {
    "parties": """party_id,name,kind
P1,Acme Trading Co.,company
P2,"Wang, Wei",individual
P3,Hangzhou Jinding Logistics,company
""",
    "loans": """loan_id,borrower_id,currency,principal,interest,penalty,fees,status
L1,P1,CNY,1000000.00,1200.50,0,,performing
L2,P2,USD,50000,0.5,1.25,0.10,overdue
L3,P3,CNY,250000.00,0.00,0.00,0.00,non_performing
L4,P1,JPY,1000000,0,0,0,settled
""",
    "assets": """asset_id,kind,owner_id,description
A1,real_estate,P1,"Office floor 12, Century Ave"
A2,vehicle,P2,
A3,equipment,P3,CNC line
""",
    "policies": """kind,haircut,revaluation_days,max_ltv
real_estate,0.30,365,0.70
vehicle,0.5,180,0.5
equipment,0.40,365,0.60
""",
    "valuations": """asset_id,valued_on,market_value,currency,method,status
A1,2025-06-30,2500000.00,CNY,market_comparison,approved
A1,2024-06-30,2400000.00,CNY,market_comparison,approved
A2,2025-01-15,30000,USD,desktop,submitted
A3,2025-03-01,410000.00,CNY,cost,rejected
""",
    "liens": """lien_id,asset_id,kind,holder,status,perfected_at,cap,external_claim
M1,A1,max_amount_mortgage,own,registered,2025-07-01T09:30:00+08:00,800000.00,
M2,A1,mortgage,Bank of Ningbo,registered,2025-07-01T01:30:00Z,,300000.00
M3,A2,pledge,own,draft,,,
M4,A3,mortgage,own,registered,2025-02-01 10:00:00,,
M5,A3,mortgage,own,released,2020-02-01T10:00:00Z,,
""",
    "lien_loans": """lien_id,loan_id
M1,L1
M1,L3
M3,L2
M4,L3
M5,L3
""",
}


def write(directory: Path, files: dict[str, str] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in (files or FILES).items():
        (directory / f"{name}.csv").write_text(text)
    return directory
