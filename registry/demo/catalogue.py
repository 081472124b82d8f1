"""What the demo collateral is: the catalogue of asset kinds, and how a new asset of each kind is described."""

from __future__ import annotations

import random
from typing import Any

from registry.demo.identifiers import (
    CO_CITY,
    CO_TRADE,
    CO_TRADE_LINE,
    ID_REGIONS,
    certificate_place,
    credit_code,
    patent_no,
    vin,
)
from registry.demo.places import DISTRICTS, PROVINCE, ParcelGrid, street_address
from registry.demo.plans import ANCHOR, PartyPlan

_VEHICLES = [
    ("SAIC Volkswagen Passat 330TSI", "LSV"),
    ("BYD Han EV", "LGX"),
    ("Geely Xingyue L", "L6T"),
    ("Tesla Model Y (Shanghai-built)", "LRW"),
    ("Beijing Benz E 300 L", "LE4"),
    ("Sinotruk HOWO T7H 6x4 tractor unit", "LZZ"),
    ("FAW Jiefang J6P 8x4 dump truck", "LFW"),
    ("SAIC Maxus V90 panel van", "LSK"),
]
_EQUIPMENT = [
    ("CNC vertical machining centre", "DMG MORI DMU 65", "DMU"),
    ("Injection moulding machine", "Haitian MA3800", "HT"),
    ("Air-jet weaving looms (set of 24)", "Tsudakoma ZAX9200i", "ZAX"),
    ("Hydraulic excavator", "Sany SY365H", "SY"),
    ("Tower crane", "Zoomlion T7020", "ZL"),
    ("Fibre laser cutting machine", "Han's Laser G6025", "HL"),
    ("Sheet-fed offset press", "Heidelberg Speedmaster XL 106", "HD"),
    ("Photovoltaic cell stringer line", "Wuxi Autowell AM050", "AW"),
]
_INVENTORY = [
    ("Hot-rolled steel coils", "t", 800, 5000),
    ("Electrolytic copper cathode", "t", 100, 800),
    ("Cotton yarn 32s", "t", 200, 1500),
    ("Finished garments", "pieces", 20_000, 200_000),
    ("Photovoltaic modules 550 W", "pieces", 5000, 60_000),
    ("Refined soybean oil", "t", 500, 4000),
]
_WAREHOUSES = {"Shanghai": "Waigaoqiao Bonded Logistics Park warehouse", "Hangzhou": "Xiaoshan Logistics Hub warehouse"}
_DEBTORS = [
    "China State Construction Engineering Corp. Shanghai Branch",
    "SAIC Motor Passenger Vehicle Co.",
    "Zhejiang Geely Holding Group",
    "State Grid Zhejiang Electric Power Co.",
    "Hangzhou Metro Group",
    "Shanghai Electric Group",
    "China Railway 15th Bureau Group",
    "Alibaba (China) Co.",
]
_PATENTS = [
    "Cooling device for a continuous casting mould",
    "Battery pack thermal management system",
    "Low-temperature dyeing process for polyester fabric",
    "Tamper-evident folding carton",
    "Vision inspection method for solar cell strings",
    "Energy-saving hydraulic drive for moulding",
]
_RE_USES = {
    "individual": [("Residential flat", 60, 180)],
    "company": [
        ("Office floor", 400, 2500),
        ("Industrial plant and ancillary buildings", 2000, 20_000),
        ("Retail unit, ground floor", 80, 600),
        ("Warehouse", 1500, 12_000),
    ],
}
_LAND_USES = [("industrial", 50), ("commercial", 40), ("residential", 70)]


KIND_WEIGHTS = {
    "company": {
        "real_estate": 29,
        "land_use_right": 13,
        "vehicle": 8,
        "equipment": 14,
        "inventory": 8,
        "receivable": 10,
        "deposit": 5,
        "equity": 7,
        "ip_right": 6,
    },
    "individual": {"real_estate": 70, "vehicle": 18, "deposit": 7, "equity": 5},
    "foreign": {"deposit": 40, "receivable": 35, "real_estate": 25},
}
ASSET_CODES = {
    "real_estate": "RE",
    "land_use_right": "LUR",
    "vehicle": "VEH",
    "equipment": "EQP",
    "inventory": "INV",
    "receivable": "RCV",
    "deposit": "DEP",
    "equity": "EQT",
    "ip_right": "IPR",
}


def describe(
    rng: random.Random, kind: str, owner: PartyPlan, currency: str, grids: dict[str, ParcelGrid]
) -> tuple[str, str, str, dict[str, str], dict[str, Any] | None]:
    """(district, description, address, identifiers, geometry) of a new asset of this kind."""
    city = owner.city
    district, district_cn = rng.choice(DISTRICTS[city])
    year = rng.randint(2012, 2024)
    place = certificate_place(city, district_cn).format(year=year)
    if kind == "real_estate":
        use, low, high = rng.choice(_RE_USES[owner.kind])
        area = rng.randint(low, high)
        floor = rng.randint(2, 28)
        address = (
            f"Room {floor}{rng.randint(1, 8):02d}, " if use != "Industrial plant and ancillary buildings" else ""
        ) + street_address(rng, city, district)
        ids = {"certificate_no": f"{place}不动产权第{rng.randint(1, 9_999_999):07d}号", "floor_area_sqm": str(area)}
        # A few older files have no surveyed parcel yet.
        geometry = None if rng.random() < 0.08 else grids[city].parcel(rng, rng.randint(30, 60))
        return district, f"{use}, {area:,} sqm gross floor area", address, ids, geometry
    if kind == "land_use_right":
        use, term = rng.choice(_LAND_USES)
        area = rng.randint(3000, 60_000)
        region = rng.choice(ID_REGIONS[city])
        ids = {
            "certificate_no": f"{place}不动产权第{rng.randint(1, 9_999_999):07d}号",
            "parcel_no": f"{region}{rng.randint(1, 999_999):06d}GB{rng.randint(1, 99_999):05d}",
            "land_area_sqm": str(area),
        }
        description = f"Granted state-owned land use right, {use} use, {area:,} sqm, term to {year + term}"
        return (
            district,
            description,
            street_address(rng, city, district),
            ids,
            grids[city].parcel(rng, rng.randint(55, 80)),
        )
    if kind == "vehicle":
        model, wmi = rng.choice(_VEHICLES)
        built = rng.randint(2016, 2025)
        plate = (
            PROVINCE[city]
            + ("A" if city == "Hangzhou" else rng.choice("ABCDEFGHJKLMN"))
            + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(5))
        )
        ids = {
            "vin": vin(rng, wmi, built),
            "plate_no": plate,
            "registration_certificate_no": f"{310 if city == 'Shanghai' else 330}{rng.randint(0, 10**9 - 1):09d}",
        }
        return district, f"{model}, model year {built}", street_address(rng, city, district), ids, None
    if kind == "equipment":
        name, model, prefix = rng.choice(_EQUIPMENT)
        built = rng.randint(2015, 2025)
        ids = {"serial_no": f"{prefix}{built}{rng.randint(1, 999_999):06d}", "model": model}
        return district, f"{name}, {model}, built {built}", street_address(rng, city, district), ids, None
    if kind == "inventory":
        goods, unit, low, high = rng.choice(_INVENTORY)
        qty = rng.randint(low, high)
        ids = {
            "warehouse_receipt_no": f"WR{ANCHOR.year}{rng.randint(1, 99_999_999):08d}",
            "warehouse": f"{_WAREHOUSES[city]} No. {rng.randint(1, 9)}",
        }
        description = f"{goods}, {qty:,} {unit}, under third-party collateral monitoring"
        return district, description, street_address(rng, city, district), ids, None
    if kind == "receivable":
        debtor = rng.choice(_DEBTORS)
        contract = f"SC-{year}-{rng.randint(1, 99_999):05d}"
        face = rng.randint(50, 3000) * 10_000
        ids = {"contract_no": contract, "debtor": debtor}
        return (
            district,
            f"Receivables due from {debtor} under supply contract {contract}, face value {currency} {face:,}",
            "",
            ids,
            None,
        )
    if kind == "deposit":
        months = rng.choice([6, 12, 24, 36])
        ids = {"account_no": f"{rng.randint(10**18, 10**19 - 1)}", "term_months": str(months)}
        return district, f"{currency} fixed-term deposit, {months} months, held with the lending bank", "", ids, None
    if kind == "equity":
        pct = rng.choice([10, 15, 20, 25, 30, 35, 51, 60, 100])
        target = rng.choice(CO_CITY[city]) + rng.choice(CO_TRADE) + rng.choice(CO_TRADE_LINE) + "有限公司"
        ids = {
            "company": target,
            "company_credit_code": credit_code(rng, rng.choice(ID_REGIONS[city])),
            "equity_pct": str(pct),
        }
        return district, f"{pct}% equity interest in {target}", street_address(rng, city, district), ids, None
    title = rng.choice(_PATENTS)
    ids = {"patent_no": patent_no(rng, year)}
    return district, f"Invention patent: {title}", "", ids, None
