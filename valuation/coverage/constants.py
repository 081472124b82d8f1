"""The vocabulary and scales the coverage modules share (DESIGN 5), in one place."""

from __future__ import annotations

import polars as pl

# Ratios (haircut, max_ltv, shock multipliers) as exact integers: a Decimal(38, 12) times 10^12.
SCALE = 10**12
BIG = pl.Int128
GONE_LOAN = ("settled", "written_off")
TERMINAL_LIEN = ("released", "rejected", "expired")
# Assets a court holds: an asset in disposal was seized first, and the officer must still see it.
SEIZED_ASSET = ("seized", "in_disposal")
