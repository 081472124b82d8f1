"""Names and identification numbers for the demo book, with valid check characters where the standard has one.

Personal and company names, resident identity numbers (GB 11643), unified social credit codes (GB 32100), VINs
(ISO 3779 / GB 16735), invention patent numbers, real-estate certificate places and lien registration numbers.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from registry.demo.places import DISTRICTS, PROVINCE
from registry.demo.plans import AssetPlan

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹"
GIVEN_NAMES = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "华",
    "建国",
    "志强",
    "海燕",
    "晓东",
    "国平",
    "文杰",
    "丹",
    "俊",
    "玲",
    "飞",
    "斌",
    "雪梅",
    "立新",
]
CO_CITY = {"Shanghai": ["上海", "上海浦东"], "Hangzhou": ["杭州", "浙江"]}
CO_TRADE = [
    "恒泰",
    "华联",
    "金鼎",
    "宏达",
    "鑫源",
    "永盛",
    "中捷",
    "瑞丰",
    "天成",
    "德宝",
    "盛世",
    "隆昌",
    "嘉禾",
    "联创",
    "正信",
    "海川",
    "万通",
    "锦程",
    "东升",
    "新纪元",
    "康达",
    "宝丰",
    "明远",
    "远洋",
    "福星",
]
CO_TRADE_LINE = [
    "物流",
    "纺织",
    "机械制造",
    "建材",
    "电子科技",
    "食品",
    "置业",
    "化工",
    "贸易",
    "医药",
    "包装",
    "汽车零部件",
    "船舶配套",
    "光伏科技",
    "印染",
    "钢材贸易",
    "家具",
    "服饰",
]
CO_FORM = ["有限公司", "有限公司", "有限公司", "股份有限公司", "实业有限公司"]
ID_REGIONS = {
    "Shanghai": ["310115", "310104", "310112", "310114", "310117"],
    "Hangzhou": ["330106", "330108", "330109", "330110", "330102"],
}
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
_RESIDENT_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def resident_id(rng: random.Random, region: str) -> str:
    """An 18-digit resident identity number with a valid GB 11643 check character."""
    born = date(1958, 1, 1) + timedelta(days=rng.randint(0, 34 * 365))
    body = f"{region}{born:%Y%m%d}{rng.randint(1, 999):03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, _RESIDENT_WEIGHTS, strict=True)) % 11]


def credit_code(rng: random.Random, region: str) -> str:
    """A unified social credit code (GB 32100) with a valid check character."""
    body = "91" + region + "".join(rng.choice(_USCC_CHARS) for _ in range(9))
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(body, _USCC_WEIGHTS, strict=True))
    return body + _USCC_CHARS[(31 - total % 31) % 31]


_VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
_VIN_VALUES = dict(
    zip("ABCDEFGHJKLMNPRSTUVWXYZ", [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9], strict=True)
)
_VIN_WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]
_VIN_YEARS = "FGHJKLMNPRST"  # model years 2015-2026


def vin(rng: random.Random, wmi: str, year: int) -> str:
    """A 17-character VIN with the ISO 3779 / GB 16735 check digit in position 9."""
    chars = list(
        wmi
        + "".join(rng.choice(_VIN_CHARS) for _ in range(5))
        + "0"
        + _VIN_YEARS[year - 2015]
        + rng.choice("ABCDEFGHJ")
        + f"{rng.randint(0, 999_999):06d}"
    )
    total = sum((int(c) if c.isdigit() else _VIN_VALUES[c]) * w for c, w in zip(chars, _VIN_WEIGHTS, strict=True))
    chars[8] = "X" if total % 11 == 10 else str(total % 11)
    return "".join(chars)


def certificate_place(city: str, district_cn: str) -> str:
    return f"{PROVINCE[city]}({{year}}){district_cn if city == 'Shanghai' else '杭州市'}"


def patent_no(rng: random.Random, year: int) -> str:
    body = f"{year}1{rng.randint(0, 9_999_999):07d}"
    check = sum(int(c) * w for c, w in zip(body, [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5], strict=True)) % 11
    return f"ZL{body}.{'X' if check == 10 else check}"


def registration_number(rng: random.Random, asset: AssetPlan, year: int) -> str:
    if asset.kind in ("real_estate", "land_use_right"):
        district_cn = dict(DISTRICTS[asset.city])[asset.district]
        place = certificate_place(asset.city, district_cn).format(year=year)
        return f"{place}不动产证明第{rng.randint(1, 9_999_999):07d}号"
    if asset.kind == "vehicle":
        return f"{PROVINCE[asset.city]}车押{year}{rng.randint(1, 999_999):06d}"
    if asset.kind == "equity":
        return f"({PROVINCE[asset.city]}市监)股质登记设字[{year}]第{rng.randint(1, 99_999):05d}号"
    if asset.kind == "ip_right":
        return f"Y{year}99{rng.randint(1, 99_999_999):08d}"
    if asset.kind == "deposit":
        return f"DPA-{year}-{rng.randint(1, 999_999):06d}"
    return f"{rng.randint(10**19, 10**20 - 1)}"
