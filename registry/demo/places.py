"""Where the demo collateral is: districts and roads of the two cities, street addresses and surveyed parcels."""

from __future__ import annotations

import math
import random
from typing import Any

DISTRICTS = {
    "Shanghai": [
        ("Pudong New Area", "浦东新区"),
        ("Minhang District", "闵行区"),
        ("Jiading District", "嘉定区"),
        ("Songjiang District", "松江区"),
        ("Xuhui District", "徐汇区"),
        ("Baoshan District", "宝山区"),
    ],
    "Hangzhou": [
        ("Xihu District", "西湖区"),
        ("Binjiang District", "滨江区"),
        ("Xiaoshan District", "萧山区"),
        ("Yuhang District", "余杭区"),
        ("Shangcheng District", "上城区"),
    ],
}
_ROADS = {
    "Shanghai": [
        "Zhangjiang Road",
        "Jinke Road",
        "Caoxi North Road",
        "Hongqiao Road",
        "Yindu Road",
        "Huaxia West Road",
        "Jiangchang Road",
        "Xinsong Road",
        "Century Avenue",
        "Hutai Road",
    ],
    "Hangzhou": [
        "Wensan Road",
        "Jianghong Road",
        "Binsheng Road",
        "Moganshan Road",
        "Tianmushan Road",
        "Shixin Road",
        "Wenyi West Road",
        "Qiutao Road",
    ],
}
CENTRES = {"Shanghai": (121.4737, 31.2304), "Hangzhou": (120.1551, 30.2741)}
PROVINCE = {"Shanghai": "沪", "Hangzhou": "浙"}
_PARCEL_SPACING_M, _PARCEL_COLUMNS = 250, 30
_M_PER_DEG_LAT = 111_320.0


class ParcelGrid:
    """Hands out parcels in distinct grid cells, so no two parcels overlap."""

    def __init__(self, rng: random.Random, city: str) -> None:
        self.lon0, self.lat0 = CENTRES[city]
        self.m_per_deg_lon = _M_PER_DEG_LAT * math.cos(math.radians(self.lat0))
        self.cells = rng.sample(range(_PARCEL_COLUMNS**2), _PARCEL_COLUMNS**2)

    def parcel(self, rng: random.Random, side_m: int) -> dict[str, Any]:
        row, col = divmod(self.cells.pop(), _PARCEL_COLUMNS)
        half = _PARCEL_COLUMNS * _PARCEL_SPACING_M / 2
        x = col * _PARCEL_SPACING_M - half + rng.uniform(5, _PARCEL_SPACING_M - side_m - 5)
        y = row * _PARCEL_SPACING_M - half + rng.uniform(5, _PARCEL_SPACING_M - side_m - 5)

        def lon(m: float) -> float:
            return round(self.lon0 + m / self.m_per_deg_lon, 7)

        def lat(m: float) -> float:
            return round(self.lat0 + m / _M_PER_DEG_LAT, 7)

        w, e, s, n = lon(x), lon(x + side_m), lat(y), lat(y + side_m)
        return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def street_address(rng: random.Random, city: str, district: str) -> str:
    return f"No. {rng.randint(1, 2999)} {rng.choice(_ROADS[city])}, {district}, {city}"
