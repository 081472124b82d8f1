"""Bounds on an uploaded book file, checked before it is read: at most so many rows and so many bytes
once decompressed. A Parquet file states both in its footer, so one that would expand past them (a
38 KB file of three million repeated rows) is refused without decompressing any of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from registry.config import get_settings
from registry.errors import UploadTooLargeError

ROWS_SETTING = "COLLATERAL_UPLOAD_MAX_ROWS"
BYTES_SETTING = "COLLATERAL_UPLOAD_MAX_BYTES"
# Polars decompresses a .csv that is really gzip, zlib or zstd; an upload's CSV must be the text itself.
_COMPRESSED = (b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda")


@dataclass(frozen=True, slots=True)
class ReadLimits:
    max_rows: int
    max_bytes: int

    def too_many_rows(self, file: str) -> UploadTooLargeError:
        return UploadTooLargeError(file, "rows", self.max_rows, ROWS_SETTING)

    def too_many_bytes(self, file: str) -> UploadTooLargeError:
        return UploadTooLargeError(file, "bytes once decompressed", self.max_bytes, BYTES_SETTING)


def upload_limits() -> ReadLimits:
    settings = get_settings()
    return ReadLimits(settings.upload_max_rows, settings.upload_max_bytes)


def check_before_reading(file: str, path: Path, limits: ReadLimits) -> str | None:
    """Raise UploadTooLargeError when the file's size or its own metadata is over the limits; a reason when
    it is a compressed file named .csv; None when it may be read (with `n_rows` bounded for a CSV)."""
    if path.suffix == ".parquet":
        # Imported here: only uploads are bounded, and pyarrow takes 90 ms to import (`coverage --from` needs none).
        import pyarrow.parquet as pq

        try:
            meta = pq.read_metadata(path)
        except (OSError, ValueError):
            return None  # not Parquet: the reader says why
        if meta.num_rows > limits.max_rows:
            raise limits.too_many_rows(file)
        # Uncompressed size of every column chunk, as the writer recorded it.
        if sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)) > limits.max_bytes:
            raise limits.too_many_bytes(file)
        return None
    if path.stat().st_size > limits.max_bytes:
        raise limits.too_many_bytes(file)
    with path.open("rb") as handle:
        head = handle.read(4)
    if any(head.startswith(magic) for magic in _COMPRESSED):
        return f"{path.name} is compressed; upload the CSV text itself (or Parquet)"
    return None
