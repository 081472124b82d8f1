"""The shared pieces of every download: the Content-Disposition header and formula-safe CSV."""

from __future__ import annotations

import polars as pl

from registry.downloads import content_disposition, csv_safe_frame, csv_safe_row


def test_content_disposition_is_ascii_with_the_exact_name_in_filename_star() -> None:
    assert content_disposition("coverage.csv") == 'attachment; filename="coverage.csv"'
    header = content_disposition("抵押合同.pdf")
    assert header.isascii()
    assert header == "attachment; filename=\"download.pdf\"; filename*=UTF-8''%E6%8A%B5%E6%8A%BC%E5%90%88%E5%90%8C.pdf"
    assert 'filename="a_b.pdf"' in content_disposition('a"b.pdf')


def test_formula_cells_are_prefixed_and_numbers_left_alone() -> None:
    frame = pl.DataFrame(
        {
            "name": ["=cmd|' /C calc'!A0", "+A1", "-x", "@SUM(A1)", "\tx", "\rx", "plain", "-12.50", None],
            "amount": [-1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, -12.5, 0.0],
        }
    )
    out = csv_safe_frame(frame)
    assert out["name"].to_list() == [
        "'=cmd|' /C calc'!A0",
        "'+A1",
        "'-x",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "plain",
        "-12.50",
        None,
    ]
    assert out["amount"].to_list() == frame["amount"].to_list()
    assert csv_safe_row(["=1+1", "-3.25", 7, None]) == ["'=1+1", "-3.25", 7, None]
